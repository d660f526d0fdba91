import type { RunConfig } from '../config/schema';
import { sourceOf } from '../selection/stats';
import { listShards } from '../sources/list-shards';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';

/** Every shard of the run's pool, in configuration order. */
export async function poolShardsOf(config: RunConfig): Promise<ShardRef[]> {
  return (await Promise.all(config.pool.sources.map(listShards))).flat();
}

/** Pool images per source (the sample id's prefix), read from shard headers without decoding. */
export async function poolPerSource(config: RunConfig): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const shard of await poolShardsOf(config)) {
    for await (const { id } of sourceSamples(shard)) counts[sourceOf(id)] = (counts[sourceOf(id)] ?? 0) + 1;
  }
  return counts;
}
