import type { RunConfig } from '../config/schema';
import { sourceOf } from '../selection/stats';
import { listAllShards } from '../sources/list-shards';
import { sourceSamples } from '../sources/samples';

/** Pool images per source (the sample id's prefix), read from shard headers without decoding. */
export async function poolPerSource(config: RunConfig): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const shard of await listAllShards(config.pool.sources)) {
    for await (const { id, image } of sourceSamples(shard)) if (image) counts[sourceOf(id)] = (counts[sourceOf(id)] ?? 0) + 1;
  }
  return counts;
}
