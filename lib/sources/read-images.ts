import { readFile } from 'node:fs/promises';
import { imageOf } from '../webdataset/sample';
import { readShard } from '../webdataset/reader';
import { entryPath, readManifestShard } from './manifest';
import type { ShardRef } from './shard-ref';

/** One sample of a shard as the embedder sees it: its pool-wide id and its encoded image, if it has one. */
export interface ImageSample {
  /** `<source>/<key>`: stable, independent of the run. */
  id: string;
  image?: Buffer;
  /** Why there is no image (no image member, a missing file). */
  missing?: string;
  /** The label from the manifest line or the sample's json member, if any. */
  label?: string;
}

function labelOf(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Streams the samples of any shard (WebDataset tar or manifest range) in shard order, bytes undecoded. */
export async function* readShardImages(ref: ShardRef): AsyncGenerator<ImageSample> {
  if (ref.format === 'manifest') {
    for await (const entry of readManifestShard(ref)) {
      const id = `${ref.source}/${entry.id}`;
      const label = labelOf(entry.label);
      try {
        yield { id, label, image: await readFile(entryPath(ref.path, entry.uri)) };
      } catch (err) {
        yield { id, label, missing: `cannot read ${entry.uri}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      }
    }
    return;
  }
  for await (const sample of readShard(ref.path)) {
    const image = imageOf(sample);
    const id = `${ref.source}/${sample.key}`;
    const label = sample.files.json ? labelOf((JSON.parse(sample.files.json.toString('utf8')) as { label?: unknown }).label) : undefined;
    yield image ? { id, label, image: image.bytes } : { id, label, missing: `no image member (has ${Object.keys(sample.files).join(', ') || 'nothing'})` };
  }
}
