import { ObjectStoreError } from '../object-store';
import { sniffFormat } from '../preprocess/sniff';
import { readShard } from '../webdataset/reader';
import { imageOf, type Sample } from '../webdataset/sample';
import { readFolderShard } from './folder';
import { entryPath, readManifestShard } from './manifest';
import { holdsImages, type ShardRef } from './shard-ref';
import { readSourceFile, streamSourceFile } from './source-files';

/** One sample of any source: a WebDataset tar's, or a manifest line's (a folder's images are listed as manifest lines). */
export interface SourceSample {
  /** `<source>/<key>`: stable, independent of the run. */
  id: string;
  /** The manifest line's label; for a tar sample, its `.cls` member (text, trimmed: the WebDataset convention), else its json member's `label`. */
  label?: string;
  /** The encoded image, undecoded; absent when the sample has none, and then `missing` says why. */
  image?: Buffer;
  missing?: string;
  /** Its members in WebDataset form: a tar's as stored; for a manifest line, its image file and a json member with id and label. */
  sample: Sample;
}

const labelOf = (value: unknown) => (value === undefined || value === null ? undefined : String(value));

function tarLabel(sample: Sample, meta: { label?: unknown }): string | undefined {
  return sample.files.cls ? sample.files.cls.toString('utf8').trim() : labelOf(meta.label);
}

/** The member extension of a file's image, from its magic bytes (`bin` keeps an unknown format as stored). */
function imageExtension(bytes: Buffer): string {
  const format = sniffFormat(bytes);
  return format === 'jpeg' ? 'jpg' : (format ?? 'bin');
}

/**
 * Streams the samples of any shard in shard order, images undecoded, each with its label: the one
 * reader of samples for every source kind. A sample without an image is yielded too (the embedding
 * stage quarantines it); what lists pool images or target instances skips it.
 */
export async function* sourceSamples(ref: ShardRef): AsyncGenerator<SourceSample> {
  if (holdsImages(ref)) {
    for await (const sample of readShard(ref.path, streamSourceFile(ref.path, { version: ref.version }))) {
      const meta = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as { label?: unknown }) : {};
      const image = imageOf(sample)?.bytes;
      const id = `${ref.source}/${sample.key}`;
      yield { id, label: tarLabel(sample, meta), image, missing: image ? undefined : `no image member (has ${Object.keys(sample.files).join(', ') || 'nothing'})`, sample };
    }
    return;
  }
  for await (const entry of ref.format === 'folder' ? await readFolderShard(ref) : readManifestShard(ref)) {
    const id = `${ref.source}/${entry.id}`;
    const label = labelOf(entry.label);
    // Integer class labels stay numbers, as the trainer reads them.
    const stored = label !== undefined && /^\d+$/.test(label) ? Number(label) : label;
    const json = Buffer.from(JSON.stringify({ id, ...(stored === undefined ? {} : { label: stored }) }));
    let image: Buffer;
    try {
      image = await readSourceFile(entryPath(ref.path, entry.uri), { version: entry.version });
    } catch (err) {
      // A store that cannot be reached right now says nothing about the image: the shard is retried.
      if (err instanceof ObjectStoreError && err.retryable) throw err;
      yield { id, label, missing: `cannot read ${entry.uri}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, sample: { key: id, files: { json } } };
      continue;
    }
    yield { id, label, image, sample: { key: id, files: { [imageExtension(image)]: image, json } } };
  }
}
