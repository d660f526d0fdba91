import { createHash } from 'node:crypto';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';
import { writeLocation } from '../storage/location';
import { sourceOf } from './stats';
import { type SubsetShards, writeSubsetShards } from './subset-shards';

export interface RandomSample {
  /** Its shards as a webdataset source names them (SubsetShards). */
  shards: SubsetShards['shards'];
  samples: number;
  manifest: string;
  perSource: Record<string, number>;
}

/** A sample's rank in the random order of `seed`: uniform, and the same whatever the shard order. */
const rank = (seed: number, id: string) => createHash('sha1').update(`${seed}\0${id}`).digest().readBigUInt64BE(0);

/**
 * A uniform random sample of `size` pool images, excluding `exclude` (the target's own images), as
 * WebDataset shards (`files`, lib/run-layout.ts): stage 0's training data and the experiment's random-subset arm.
 * Deterministic in `seed`; memory stays O(size) whatever the pool size.
 */
export async function writeRandomPoolSample(opts: {
  poolShards: ShardRef[];
  size: number;
  seed: number;
  exclude: Set<string>;
  files: { manifest: string; shards: string };
  shardSize: number;
}): Promise<RandomSample> {
  let kept: { rank: bigint; id: string; shardId: string }[] = [];
  const trim = () => {
    kept.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
    kept = kept.slice(0, opts.size);
  };
  for (const ref of opts.poolShards) {
    for await (const { id, image } of sourceSamples(ref)) {
      if (image && !opts.exclude.has(id)) kept.push({ rank: rank(opts.seed, id), id, shardId: ref.id });
    }
    if (kept.length >= 2 * opts.size) trim();
  }
  trim();

  const { manifest } = opts.files;
  await writeLocation(manifest, kept.map((k) => JSON.stringify({ id: k.id, shard_id: k.shardId })).join('\n') + '\n');
  const { shards, samples } = await writeSubsetShards(manifest, opts.poolShards, opts.files.shards, opts.shardSize);
  const perSource: Record<string, number> = {};
  for (const k of kept) perSource[sourceOf(k.id)] = (perSource[sourceOf(k.id)] ?? 0) + 1;
  return { shards, samples, manifest, perSource };
}
