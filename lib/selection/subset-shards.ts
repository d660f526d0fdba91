import { braceNames } from '../sources/expand';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';
import { deleteFolderLocation, readExistingText } from '../storage/location';
import { type Sample, webdatasetKey } from '../webdataset/sample';
import { shardSetRange, writeShardSet } from '../webdataset/writer';

/**
 * Subset shards as a trainer's webdataset source names them: one brace range over them in order
 * (a payload of constant size, whatever their count), or none when no sample was selected.
 */
export interface SubsetShards {
  shards: string | [];
  samples: number;
}

/** The wanted samples of the pool shards, in shard order, each sample's json with its pool id added. */
async function* selectedSamples(wanted: Map<string, Set<string>>, poolShards: ShardRef[]): AsyncGenerator<Sample> {
  for (const ref of poolShards) {
    const ids = wanted.get(ref.id);
    if (!ids) continue;
    for await (const { id, image, sample } of sourceSamples(ref)) {
      // A later sample under a selected id is a duplicate, never the one embedded.
      if (!image || !ids.has(id)) continue;
      const meta = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as Record<string, unknown>) : {};
      yield { key: webdatasetKey(id), files: { ...sample.files, json: Buffer.from(JSON.stringify({ ...meta, id })) } };
    }
  }
}

/**
 * Copies the selected samples out of their pool shards into subset shards of `shardSize`, bytes as
 * stored (the trainer decodes them as it would the pool), in a folder or under a bucket prefix. Each sample's json gains its pool id.
 * Stale shards of an earlier attempt are removed first.
 */
export async function writeSubsetShards(manifestFile: string, poolShards: ShardRef[], outDir: string, shardSize: number): Promise<SubsetShards> {
  const lines = (await readExistingText(manifestFile)).split('\n').filter(Boolean);
  const wanted = new Map<string, Set<string>>();
  for (const line of lines) {
    const { id, shard_id } = JSON.parse(line) as { id: string; shard_id: string };
    (wanted.get(shard_id) ?? wanted.set(shard_id, new Set()).get(shard_id)!).add(id);
  }
  await deleteFolderLocation(outDir);
  const { shards, samples } = await writeShardSet(outDir, 'subset', shardSize, selectedSamples(wanted, poolShards));
  return { shards: shards.length > 0 ? shardSetRange(outDir, 'subset', shards.length) : [], samples };
}

/** The subset shards' locations in order, from what a result names: a range, or a list in results of 0.4.0 and before. */
export function subsetShardPaths(shards: string | string[]): string[] {
  return typeof shards === 'string' ? [...braceNames(shards)] : shards;
}
