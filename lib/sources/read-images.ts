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
}

/** Streams the samples of any shard (WebDataset tar or manifest range) in shard order, bytes undecoded. */
export async function* readShardImages(ref: ShardRef): AsyncGenerator<ImageSample> {
  if (ref.format === 'manifest') {
    for await (const entry of readManifestShard(ref)) {
      const id = `${ref.source}/${entry.id}`;
      try {
        yield { id, image: await readFile(entryPath(ref.path, entry.uri)) };
      } catch (err) {
        yield { id, missing: `cannot read ${entry.uri}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      }
    }
    return;
  }
  for await (const sample of readShard(ref.path)) {
    const image = imageOf(sample);
    const id = `${ref.source}/${sample.key}`;
    yield image ? { id, image: image.bytes } : { id, missing: `no image member (has ${Object.keys(sample.files).join(', ') || 'nothing'})` };
  }
}
