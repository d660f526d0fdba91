import { heartbeat } from '@temporalio/activity';
import { type Census, takeCensus } from '../lib/sources/census';
import type { SourceSpec } from '../lib/config/sources';
import { listAllShards } from '../lib/sources/list-shards';
import type { ShardRef } from '../lib/sources/shard-ref';
import { failFastOnBadInput } from './failures';

/** Lists every source of a pool (or target) as shard references. */
export async function listSourceShards(sources: SourceSpec[]): Promise<ShardRef[]> {
  return failFastOnBadInput(() => listAllShards(sources));
}

/** Samples per label and source, read from the shards' metadata or the manifest's lines. */
export async function countLabels(shards: ShardRef[]): Promise<Census> {
  return failFastOnBadInput(() => takeCensus(shards, (done) => heartbeat({ shardsDone: done })));
}
