import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';
import { ShardWriter } from '../webdataset/writer';

/** WebDataset keys may hold '/' (a path) but not '.', which starts the extension. */
const subsetKey = (id: string) => id.replace(/\./g, '_');

/**
 * Copies the selected samples out of their pool shards into subset shards of `shardSize`, bytes as
 * stored (the trainer decodes them as it would the pool). Each sample's json gains its pool id.
 * Output shards are written under temporary names and renamed; stale shards of an earlier attempt are removed first.
 */
export async function writeSubsetShards(manifestFile: string, poolShards: ShardRef[], outDir: string, shardSize: number): Promise<{ shards: string[]; samples: number }> {
  const lines = (await readFile(manifestFile, 'utf8')).split('\n').filter(Boolean);
  const wanted = new Map<string, Set<string>>();
  for (const line of lines) {
    const { id, shard_id } = JSON.parse(line) as { id: string; shard_id: string };
    (wanted.get(shard_id) ?? wanted.set(shard_id, new Set()).get(shard_id)!).add(id);
  }
  await rm(outDir, { recursive: true, force: true });
  const shards: string[] = [];
  let writer: ShardWriter | undefined;
  let samples = 0;
  for (const ref of poolShards) {
    const ids = wanted.get(ref.id);
    if (!ids) continue;
    for await (const { id, sample } of sourceSamples(ref)) {
      if (!ids.has(id)) continue;
      if (!writer) {
        const path = join(outDir, `subset-${String(shards.length).padStart(6, '0')}.tar`);
        shards.push(path);
        writer = await ShardWriter.create(path);
      }
      const meta = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as Record<string, unknown>) : {};
      await writer.write({ key: subsetKey(id), files: { ...sample.files, json: Buffer.from(JSON.stringify({ ...meta, id })) } });
      samples++;
      if (writer.samples === shardSize) {
        await writer.close();
        writer = undefined;
      }
    }
  }
  await writer?.close();
  return { shards, samples };
}
