import { CENSUS_LABEL_BYTES } from '../config/work-limits';
import { sourceSamples } from './samples';
import type { ShardRef } from './shard-ref';

/** Samples per label of one source. */
export interface SourceCensus {
  samples: number;
  unlabeled: number;
  perLabel: Record<string, number>;
  /**
   * Samples of labels left out of `perLabel` once the census listed label names worth its bound
   * (CENSUS_LABEL_BYTES, lib/config/work-limits.ts): a pool labelled by caption. Absent when none.
   */
  otherLabels?: number;
}

/** Samples per label of each source: a first look at a pool or a target set, its size bounded by labels, never by samples or shards. */
export interface Census {
  total: number;
  sources: Record<string, SourceCensus>;
}

/** What a label adds to the census's payload: its name, quoted, and a count. */
const listedBytes = (label: string) => Buffer.byteLength(label) + 16;

/**
 * Counts samples per label, for every source kind (tar, folder, manifest, demo), without decoding
 * images; shards are read one at a time as `shards` yields them (a list, or a plan read by pages).
 */
export async function takeCensus(
  shards: Iterable<ShardRef> | AsyncIterable<ShardRef>,
  onShard?: (done: number) => void,
  maxLabelBytes = CENSUS_LABEL_BYTES,
): Promise<Census> {
  const census: Census = { total: 0, sources: {} };
  let labelBytes = 0;
  let done = 0;
  for await (const shard of shards) {
    const entry = (census.sources[shard.source] ??= { samples: 0, unlabeled: 0, perLabel: {} });
    for await (const { label } of sourceSamples(shard)) {
      entry.samples++;
      census.total++;
      if (label === undefined) entry.unlabeled++;
      else if (Object.hasOwn(entry.perLabel, label)) entry.perLabel[label]++;
      else if (labelBytes + listedBytes(label) <= maxLabelBytes) {
        entry.perLabel[label] = 1;
        labelBytes += listedBytes(label);
      } else entry.otherLabels = (entry.otherLabels ?? 0) + 1;
    }
    onShard?.(++done);
  }
  return census;
}
