import { heartbeat } from '@temporalio/activity';
import { type Census, countCensusPage, foldCensusPages, takeCensus } from '../lib/sources/census';
import type { PassPages } from '../lib/sources/pass-pages';
import type { SourceSpec } from '../lib/config/sources';
import { planShards, readShardPlanPage, type ShardPlan, writeShardPlan } from '../lib/embed/shard-plan';
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
 * Kept for census executions started before `census-by-page`, which count the whole plan here.
 */
export async function countLabels(shards: ShardRef[] | ShardPlan): Promise<Census> {
  return failFastOnBadInput(() => takeCensus(Array.isArray(shards) ? shards : planShards(shards), (done) => heartbeat({ shardsDone: done })));
}

/** Counts one page of the census's plan into its file under the run's output folder (lib/sources/census.ts): the page's labels in full, whatever their number. */
export async function countLabelPage(plan: ShardPlan, pages: PassPages, page: number, outputDir: string, runName: string): Promise<{ samples: number }> {
  return failFastOnBadInput(async () => {
    const shards = await readShardPlanPage(plan, page * pages.shards, pages.shards);
    return countCensusPage(shards, new RunLayout(outputDir, runName).censusPage(page), (done) => heartbeat({ shardsDone: done }));
  });
}

/** The census from its counted pages, folded in page order: the same as one count of the whole plan. */
export async function foldCensus(pages: PassPages, outputDir: string, runName: string): Promise<Census> {
  const layout = new RunLayout(outputDir, runName);
  return failFastOnBadInput(() => foldCensusPages(Array.from({ length: pages.count }, (_, page) => layout.censusPage(page))));
}
