import { createHash } from 'node:crypto';
import type { SourceSpec } from '../config/sources';
import { planShards, readShardPlanPage, type ShardPlan, writeShardPlan } from '../embed/shard-plan';
import type { PoolSampleFiles } from '../run-layout';
import { type PassPages, passPages } from '../sources/pass-pages';
import { sourceSamples } from '../sources/samples';
import { deleteFolderLocation, deleteLocation, readExistingText, readLocationRange, readLocationText, writeLocation } from '../storage/location';
import { shardSetRange } from '../webdataset/writer';
import { sourceOf } from './stats';
import { planSubsetShardGroups, type SubsetShards, writeSubsetShardGroup } from './subset-shards';

// A uniform random sample of `size` pool images, excluding the target's own: stage 0's training data
// and the experiment's random-subset arm. Each image's rank in the random order depends on the seed
// and its id alone, so the pass over the pool splits into pages of its shard plan, each keeping its
// own `size` lowest ranks: together they hold the pool's `size` lowest, which a fold keeps. The
// sample's shards are then copied group by group, as a selection's subset is (subset-shards.ts).

export interface RandomSample {
  /** Its shards as a webdataset source names them (SubsetShards). */
  shards: SubsetShards['shards'];
  samples: number;
  manifest: string;
  perSource: Record<string, number>;
}

/** How a sample is drawn: its size, and the seed of its random order. */
export interface SampleDraw {
  size: number;
  seed: number;
}

/** How the sample's shards are copied: samples a subset shard, and samples a copying activity at least. */
export interface SampleCopy {
  shardSize: number;
  groupSamples: number;
}

/** A sample's rank in the random order of `seed`: uniform, and the same whatever the shard order (the cluster policy's draw too). */
export const rank = (seed: number, id: string) => createHash('sha1').update(`${seed}\0${id}`).digest().readBigUInt64BE(0);

interface Ranked {
  rank: bigint;
  id: string;
  shardId: string;
}

const byRank = (a: Ranked, b: Ranked) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0);

/**
 * The `size` lowest-ranked of the samples offered, equal ranks (one id in two shards) in the order
 * offered: the sort is stable, so paging the pool keeps the order one pass over it would. Memory O(size).
 */
class LowestRanks {
  private kept: Ranked[] = [];
  private readonly bound: number;

  constructor(private readonly size: number) {
    this.bound = Math.max(2 * size, 1024);
  }

  offer(sample: Ranked): void {
    this.kept.push(sample);
    if (this.kept.length >= this.bound) this.trim();
  }

  lowest(): Ranked[] {
    this.trim();
    return this.kept;
  }

  private trim(): void {
    this.kept.sort(byRank);
    this.kept.length = Math.min(this.kept.length, this.size);
  }
}

/**
 * The sample's plan: the pool's shards into its own shard plan (paged by `passPages`), and the
 * target's ids into a file beside it, which every page reads instead of listing the target again.
 */
export async function planPoolSample(sources: SourceSpec[], targetIds: Iterable<string>, files: PoolSampleFiles): Promise<ShardPlan> {
  // A new draw under this name: an earlier one's fold no longer answers for it.
  await deleteLocation(files.fold);
  await writeLocation(files.targetIds, [...targetIds].map((id) => `${JSON.stringify(id)}\n`).join(''));
  return writeShardPlan(sources, files.poolShardPlan);
}

async function readTargetIds(files: PoolSampleFiles): Promise<Set<string>> {
  return new Set((await readExistingText(files.targetIds)).split('\n').filter(Boolean).map((line) => JSON.parse(line) as string));
}

/**
 * Page `page` of the plan: the `size` lowest-ranked images of its shards, the target's excluded,
 * written to the page's file as JSON lines (id, shard_id, rank as a decimal string) in rank order.
 * Only the count travels.
 */
export async function samplePoolPage(
  plan: ShardPlan,
  pages: PassPages,
  page: number,
  draw: SampleDraw,
  files: PoolSampleFiles,
  onShard?: (done: number) => void,
): Promise<{ samples: number }> {
  const exclude = await readTargetIds(files);
  const lowest = new LowestRanks(draw.size);
  let done = 0;
  for (const ref of await readShardPlanPage(plan, page * pages.shards, pages.shards)) {
    for await (const { id, image } of sourceSamples(ref)) {
      if (image && !exclude.has(id)) lowest.offer({ rank: rank(draw.seed, id), id, shardId: ref.id });
    }
    onShard?.(++done);
  }
  const kept = lowest.lowest();
  await writeLocation(files.page(page), kept.map((k) => `${JSON.stringify({ id: k.id, shard_id: k.shardId, rank: k.rank.toString() })}\n`).join(''));
  return { samples: kept.length };
}

/** Bytes of a page file read at once: the fold holds one such range a page, whatever the sample's size. */
const PAGE_READ_BYTES = 16 * 1024;

/** A page file's samples in its order (rank order), read a range at a time, as far as the fold takes them. */
async function* pageSamples(location: string): AsyncGenerator<Ranked> {
  let pending = Buffer.alloc(0);
  for (let at = 0; ; ) {
    const read = await readLocationRange(location, at, at + PAGE_READ_BYTES);
    if (!read) throw Object.assign(new Error(`ENOENT: nothing at ${location}`), { code: 'ENOENT' });
    at += read.bytes.length;
    const bytes = Buffer.concat([pending, read.bytes]);
    const whole = bytes.lastIndexOf(0x0a) + 1;
    for (const line of bytes.subarray(0, whole).toString('utf8').split('\n')) {
      if (!line) continue;
      const { id, shard_id, rank } = JSON.parse(line) as { id: string; shard_id: string; rank: string };
      yield { rank: BigInt(rank), id, shardId: shard_id };
    }
    pending = bytes.subarray(whole);
    if (at >= read.size || read.bytes.length === 0) return;
  }
}

/**
 * Runs each in rank order, merged into one: the lowest rank first, equal ranks in the runs' order
 * (the pool's, as one pass over it would keep them). A heap of the runs' heads: memory for the heads.
 */
async function* byRankAcross(runs: AsyncGenerator<Ranked>[]): AsyncGenerator<Ranked> {
  const heap: { sample: Ranked; run: number }[] = [];
  const before = (a: number, b: number) => heap[a].sample.rank < heap[b].sample.rank || (heap[a].sample.rank === heap[b].sample.rank && heap[a].run < heap[b].run);
  const swap = (a: number, b: number) => ([heap[a], heap[b]] = [heap[b], heap[a]]);
  const push = (head: { sample: Ranked; run: number }) => {
    heap.push(head);
    for (let i = heap.length - 1, up = (i - 1) >> 1; i > 0 && before(i, up); i = up, up = (i - 1) >> 1) swap(i, up);
  };
  const popRoot = () => {
    swap(0, heap.length - 1);
    heap.pop();
    for (let i = 0; ; ) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      const low = r < heap.length && before(r, l) ? r : l;
      if (low >= heap.length || !before(low, i)) return;
      swap(i, low);
      i = low;
    }
  };
  const advance = async (run: number) => {
    const next = await runs[run].next();
    if (!next.done) push({ sample: next.value, run });
  };
  for (let run = 0; run < runs.length; run++) await advance(run);
  while (heap.length > 0) {
    const { sample, run } = heap[0];
    popRoot();
    yield sample;
    await advance(run);
  }
}

/**
 * Once every page is sampled: the `size` lowest of their files, merged in rank order and read only
 * as far as the sample reaches (memory O(size), the manifest's), as the sample's manifest in rank
 * order; then its copy planned as groups of pool shards (subset-shards.ts), each for
 * writePoolSampleGroup. The result names the shards the groups will write. The pages' files (up to
 * `size` lines each, pages x size in all) are removed once the result is recorded; a retry returns
 * the record.
 */
export async function foldPoolSample(plan: ShardPlan, pages: PassPages, size: number, files: PoolSampleFiles, copy: SampleCopy): Promise<{ sample: RandomSample; groups: number }> {
  const recorded = await readLocationText(files.fold);
  const folded = recorded === undefined ? await foldPages(plan, pages, size, files, copy) : (JSON.parse(recorded) as { sample: RandomSample; groups: number });
  if (recorded === undefined) await writeLocation(files.fold, JSON.stringify(folded));
  await deleteFolderLocation(files.pages);
  return folded;
}

async function foldPages(plan: ShardPlan, pages: PassPages, size: number, files: PoolSampleFiles, copy: SampleCopy): Promise<{ sample: RandomSample; groups: number }> {
  const kept: Ranked[] = [];
  if (size > 0) {
    for await (const sample of byRankAcross(Array.from({ length: pages.count }, (_, page) => pageSamples(files.page(page))))) {
      kept.push(sample);
      if (kept.length === size) break;
    }
  }
  await writeLocation(files.manifest, kept.map((k) => JSON.stringify({ id: k.id, shard_id: k.shardId })).join('\n') + '\n');
  const perSource: Record<string, number> = {};
  for (const k of kept) perSource[sourceOf(k.id)] = (perSource[sourceOf(k.id)] ?? 0) + 1;
  const groups = await planSubsetShardGroups(files.manifest, planShards(plan), { shards: files.shards, groups: files.groups }, copy.shardSize, copy.groupSamples);
  const shards: SubsetShards['shards'] = groups.shards > 0 ? shardSetRange(files.shards, 'subset', groups.shards) : [];
  return { sample: { shards, samples: groups.samples, manifest: files.manifest, perSource }, groups: groups.groups };
}

/** Copies group `group` of the sample's copy into its shards. */
export async function writePoolSampleGroup(files: PoolSampleFiles, group: number): Promise<{ samples: number; shards: number }> {
  return writeSubsetShardGroup(files.groups, group, files.shards);
}

/**
 * The whole sample in one call, every step above in sequence: for samplePool activities that
 * executions started before the `sample-by-page` patch still schedule.
 */
export async function writeRandomPoolSample(opts: {
  sources: SourceSpec[];
  targetIds: Iterable<string>;
  draw: SampleDraw;
  files: PoolSampleFiles;
  copy: SampleCopy;
}): Promise<RandomSample> {
  const plan = await planPoolSample(opts.sources, opts.targetIds, opts.files);
  const pages = passPages(plan.total);
  for (let page = 0; page < pages.count; page++) await samplePoolPage(plan, pages, page, opts.draw, opts.files);
  const { sample, groups } = await foldPoolSample(plan, pages, opts.draw.size, opts.files, opts.copy);
  for (let group = 0; group < groups; group++) await writePoolSampleGroup(opts.files, group);
  return sample;
}
