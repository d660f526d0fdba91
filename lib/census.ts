import type { ShardRef } from './sources/shard-ref';
import { readShard } from './webdataset/reader';

/** Samples per label of each source: a first look at a pool or a target set. */
export interface Census {
  total: number;
  sources: Record<string, { samples: number; unlabeled: number; perLabel: Record<string, number> }>;
}

/** Counts samples per label from the shards' JSON metadata, without decoding images. */
export async function takeCensus(shards: ShardRef[], onShard?: (done: number) => void): Promise<Census> {
  const census: Census = { total: 0, sources: {} };
  let done = 0;
  for (const shard of shards) {
    const entry = (census.sources[shard.source] ??= { samples: 0, unlabeled: 0, perLabel: {} });
    for await (const sample of readShard(shard.path)) {
      const label = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as { label?: unknown }).label : undefined;
      entry.samples++;
      census.total++;
      if (label === undefined || label === null) entry.unlabeled++;
      else entry.perLabel[String(label)] = (entry.perLabel[String(label)] ?? 0) + 1;
    }
    onShard?.(++done);
  }
  return census;
}
