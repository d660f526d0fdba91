import { heartbeat } from '@temporalio/activity';
import { type Census, takeCensus } from '../lib/census';
import type { SourceSpec } from '../lib/config/sources';
import { listShards } from '../lib/sources/list-shards';
import type { ShardRef } from '../lib/sources/shard-ref';
import { failFastOnBadInput } from './failures';

/** Lists every source of a pool (or target) as shard references. */
export async function listSourceShards(sources: SourceSpec[]): Promise<ShardRef[]> {
  return failFastOnBadInput(async () => (await Promise.all(sources.map(listShards))).flat());
}

/** Samples per label and source, read from the shards' metadata. */
export async function countLabels(shards: ShardRef[]): Promise<Census> {
  return failFastOnBadInput(() => takeCensus(shards, (done) => heartbeat({ shardsDone: done })));
}
