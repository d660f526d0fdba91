import { sourceSamples } from './samples';
import type { ShardRef } from './shard-ref';

/** Samples per label of each source: a first look at a pool or a target set. */
export interface Census {
  total: number;
  sources: Record<string, { samples: number; unlabeled: number; perLabel: Record<string, number> }>;
}

/** Counts samples per label, for every source kind (tar, folder, manifest, demo), without decoding images. */
export async function takeCensus(shards: ShardRef[], onShard?: (done: number) => void): Promise<Census> {
  const census: Census = { total: 0, sources: {} };
  let done = 0;
  for (const shard of shards) {
    const entry = (census.sources[shard.source] ??= { samples: 0, unlabeled: 0, perLabel: {} });
    for await (const { label } of sourceSamples(shard)) {
      entry.samples++;
      census.total++;
      if (label === undefined) entry.unlabeled++;
      else entry.perLabel[label] = (entry.perLabel[label] ?? 0) + 1;
    }
    onShard?.(++done);
  }
  return census;
}
