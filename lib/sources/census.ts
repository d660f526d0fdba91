import { CENSUS_LABEL_BYTES } from '../config/work-limits';
import { readExistingText, writeLocation } from '../storage/location';
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
 * A census built from counts of (source, label) in the order each pair first appears in the pool:
 * a label is listed at its first appearance while the label names fit `maxLabelBytes`, and never
 * after, so the census is the same whether samples arrive one by one or counted page by page.
 */
class CensusFold {
  readonly census: Census = { total: 0, sources: {} };
  private labelBytes = 0;

  constructor(private readonly maxLabelBytes: number) {}

  /** `count` samples of `source` under `label` (undefined: unlabeled); a count of 0 lists the source alone. */
  add(source: string, label: string | undefined, count: number): void {
    const entry = (this.census.sources[source] ??= { samples: 0, unlabeled: 0, perLabel: {} });
    if (count === 0) return;
    entry.samples += count;
    this.census.total += count;
    if (label === undefined) entry.unlabeled += count;
    else if (Object.hasOwn(entry.perLabel, label)) entry.perLabel[label] += count;
    else if (this.labelBytes + listedBytes(label) <= this.maxLabelBytes) {
      entry.perLabel[label] = count;
      this.labelBytes += listedBytes(label);
    } else entry.otherLabels = (entry.otherLabels ?? 0) + count;
  }
}

/** Reads shards in order: each shard's source as it starts, then each of its samples with its label. */
async function readLabels(
  shards: Iterable<ShardRef> | AsyncIterable<ShardRef>,
  onShard: ((done: number) => void) | undefined,
  visit: { source(source: string): void; sample(source: string, label: string | undefined): void },
): Promise<void> {
  let done = 0;
  for await (const shard of shards) {
    visit.source(shard.source);
    for await (const { label } of sourceSamples(shard)) visit.sample(shard.source, label);
    onShard?.(++done);
  }
}

/**
 * Counts samples per label, for every source kind (tar, folder, manifest, demo), without decoding
 * images; shards are read one at a time as `shards` yields them (a list, or a plan read by pages).
 */
export async function takeCensus(
  shards: Iterable<ShardRef> | AsyncIterable<ShardRef>,
  onShard?: (done: number) => void,
  maxLabelBytes = CENSUS_LABEL_BYTES,
): Promise<Census> {
  const fold = new CensusFold(maxLabelBytes);
  await readLabels(shards, onShard, { source: (source) => fold.add(source, undefined, 0), sample: (source, label) => fold.add(source, label, 1) });
  return fold.census;
}

/**
 * Counts one page of the pool's shards into a file at `location`, every label in full: one JSON
 * line `[source, label or null, count]` per pair, in the order each first appears (a source's
 * unlabeled line first, 0 if none). Its size grows with the page's labels (bounded by its
 * samples), which is why it is a file and not a payload.
 */
export async function countCensusPage(shards: Iterable<ShardRef> | AsyncIterable<ShardRef>, location: string, onShard?: (done: number) => void): Promise<{ samples: number }> {
  const counts = new Map<string, [source: string, label: string | null, count: number]>();
  const entry = (source: string, label: string | null) => {
    const key = JSON.stringify([source, label]);
    return counts.get(key) ?? counts.set(key, [source, label, 0]).get(key)!;
  };
  let samples = 0;
  await readLabels(shards, onShard, {
    source: (source) => entry(source, null),
    sample: (source, label) => {
      entry(source, label ?? null)[2]++;
      samples++;
    },
  });
  await writeLocation(location, [...counts.values()].map((c) => `${JSON.stringify(c)}\n`).join(''));
  return { samples };
}

/**
 * The census of a pool counted page by page (countCensusPage), its pages' files folded in page
 * order: the same census as takeCensus of all its shards at once, label names up to `maxLabelBytes`.
 * Memory for one page's file and the census.
 */
export async function foldCensusPages(locations: Iterable<string>, maxLabelBytes = CENSUS_LABEL_BYTES): Promise<Census> {
  const fold = new CensusFold(maxLabelBytes);
  for (const location of locations) {
    for (const line of (await readExistingText(location)).split('\n')) {
      if (!line) continue;
      const [source, label, count] = JSON.parse(line) as [string, string | null, number];
      fold.add(source, label ?? undefined, count);
    }
  }
  return fold.census;
}
