import { heartbeat } from '@temporalio/activity';
import { type Census, takeCensus } from '../lib/sources/census';
import type { SourceSpec } from '../lib/config/sources';
import { planShards, type ShardPlan, writeShardPlan } from '../lib/embed/shard-plan';
import { RunLayout } from '../lib/run-layout';
import { listAllShards } from '../lib/sources/list-shards';
import type { ShardRef } from '../lib/sources/shard-ref';
import { failFastOnBadInput } from './failures';

/** Lists every source of a pool (or target) as shard references. Kept for census executions started before its `census-by-plan` patch. */
export async function listSourceShards(sources: SourceSpec[]): Promise<ShardRef[]> {
  return failFastOnBadInput(() => listAllShards(sources));
}

/** Lists the pool's sources into the census's shard plan under the run's output folder: a reference, whatever the shard count. */
export async function planCensusShards(sources: SourceSpec[], outputDir: string, runName: string): Promise<ShardPlan> {
  return failFastOnBadInput(() => writeShardPlan(sources, new RunLayout(outputDir, runName).censusShardPlan));
}

/**
 * Samples per label and source, read from the shards' metadata or the manifest's lines, shard by
 * shard from a plan (or from a list, as census executions started before `census-by-plan` send).
 */
export async function countLabels(shards: ShardRef[] | ShardPlan): Promise<Census> {
  return failFastOnBadInput(() => takeCensus(Array.isArray(shards) ? shards : planShards(shards), (done) => heartbeat({ shardsDone: done })));
}
