import { sniffFormat } from '../preprocess/sniff';
import { readShard } from '../webdataset/reader';
import type { Sample } from '../webdataset/sample';
import { readShardImages } from './read-images';
import type { ShardRef } from './shard-ref';

/** The member extension of a file's image, from its magic bytes (`bin` keeps an unknown format as stored). */
function imageExtension(bytes: Buffer): string {
  const format = sniffFormat(bytes);
  return format === 'jpeg' ? 'jpg' : (format ?? 'bin');
}

/** A sample of any source with its source-wide id and label, its members as stored (WebDataset form). */
export interface SourceSample {
  id: string;
  label?: string;
  sample: Sample;
}

/**
 * Streams the samples of any shard (WebDataset tar, or a manifest or folder range) as WebDataset
 * samples: tar members as stored; for files, the image plus a json member with id and label.
 * Samples whose image file is missing are skipped (the embedding stage quarantines them).
 */
export async function* sourceSamples(ref: ShardRef): AsyncGenerator<SourceSample> {
  if (ref.format !== 'manifest') {
    for await (const sample of readShard(ref.path)) {
      const meta = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as { label?: unknown }) : {};
      yield { id: `${ref.source}/${sample.key}`, label: meta.label == null ? undefined : String(meta.label), sample };
    }
    return;
  }
  for await (const { id, label, image } of readShardImages(ref)) {
    if (!image) continue;
    // Integer class labels stay numbers, as the trainer reads them.
    const stored = label !== undefined && /^\d+$/.test(label) ? Number(label) : label;
    const json = Buffer.from(JSON.stringify({ id, ...(stored === undefined ? {} : { label: stored }) }));
    yield { id, label, sample: { key: id, files: { [imageExtension(image)]: image, json } } };
  }
}
