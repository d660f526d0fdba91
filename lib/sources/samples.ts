import { ConfigError } from '../config/validate';
import { FileRefusedError } from '../files/regular-file';
import { inputLimits } from '../input-limits';
import { ObjectStoreError } from '../object-store';
import { BadSampleError, type BadSampleReason } from '../preprocess/bad-sample';
import { sniffFormat } from '../preprocess/sniff';
import { readShard } from '../webdataset/reader';
import { imageOf, type Sample } from '../webdataset/sample';
import { readFolderShard } from './folder';
import { entryPath, readManifestShard } from './manifest';
import { holdsImages, type ShardRef } from './shard-ref';
import { readSourceFile, streamSourceFile } from './source-files';

/** Why a sample cannot be used; the embedding stage quarantines it with these (lib/vectors/quarantine.ts). */
export interface SampleProblem {
  reason: BadSampleReason;
  /** Says what is wrong with this sample, and only this one. */
  detail: string;
}

/** One sample of any source: a WebDataset tar's, or a manifest line's (a folder's images are listed as manifest lines). */
export type SourceSample = {
  /** `<source>/<key>`: stable, independent of the run. */
  id: string;
  /** The manifest line's label; for a tar sample, its `.cls` member (text, trimmed: the WebDataset convention), else its json member's `label`. */
  label?: string;
  /** Its members in WebDataset form: a tar's as stored; for a manifest line, its image file and a json member with id and label. */
  sample: Sample;
} & (
  | { /** The encoded image, undecoded. */ image: Buffer; problem?: undefined }
  | { image?: undefined; problem: SampleProblem }
);

const labelOf = (value: unknown) => (value === undefined || value === null ? undefined : String(value));

function tarLabel(sample: Sample, meta: { label?: unknown }): string | undefined {
  return sample.files.cls ? sample.files.cls.toString('utf8').trim() : labelOf(meta.label);
}

/** A tar sample's json member, which must hold a JSON object: the label is read from it, and subsets and labeled sets add to it. */
function jsonMeta(sample: Sample): { label?: unknown } {
  const bytes = sample.files.json;
  if (!bytes) return {};
  let meta: unknown;
  try {
    meta = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadSampleError('malformed-json', `json member ${sample.key}.json is not JSON (${(err as Error).message})`);
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw new BadSampleError('malformed-json', `json member ${sample.key}.json holds ${meta === null ? 'null' : Array.isArray(meta) ? 'an array' : `a ${typeof meta}`}, not an object`);
  }
  return meta;
}

/** The member extension of a file's image, from its magic bytes (`bin` keeps an unknown format as stored). */
function imageExtension(bytes: Buffer): string {
  const format = sniffFormat(bytes);
  return format === 'jpeg' ? 'jpg' : (format ?? 'bin');
}

/**
 * Streams the samples of any shard in shard order, images undecoded, each with its label: the one
 * reader of samples for every source kind, so that every stage agrees on which samples a shard
 * has. A sample that cannot be used (no image, its file unreadable, its json member malformed, its
 * id taken) comes without an image and with its problem: the embedding stage quarantines it; what
 * lists pool images or target instances skips it. Of several samples under one id, the first in
 * shard order is the one used, on every read: a tar's first, a folder's first path in byte order
 * (`a.jpeg`, `a.jpg`, `a.png`, `a.webp`). A sample's problem never fails its shard.
 */
export async function* sourceSamples(ref: ShardRef): AsyncGenerator<SourceSample> {
  const first = new Map<string, string>();
  for await (const { sample, from } of storedSamples(ref)) {
    const taken = first.get(sample.id);
    if (taken === undefined) {
      first.set(sample.id, from);
      yield sample;
    } else {
      const problem: SampleProblem = { reason: 'duplicate-id', detail: `${from} has the id of ${taken}, an earlier sample of shard ${ref.id}, which is kept` };
      yield { id: sample.id, label: sample.label, sample: sample.sample, problem };
    }
  }
}

/** The samples of a shard as stored, each with where it comes from (a tar sample's number and members, a listed file). */
async function* storedSamples(ref: ShardRef): AsyncGenerator<{ sample: SourceSample; from: string }> {
  if (holdsImages(ref)) {
    let number = 0;
    for await (const sample of readShard(ref.path, streamSourceFile(ref.path, { version: ref.version }))) {
      const id = `${ref.source}/${sample.key}`;
      const members = Object.keys(sample.files);
      const from = `sample ${++number} (${members.map((ext) => `${sample.key}.${ext}`).join(', ') || 'no members'})`;
      if (sample.refused) {
        yield { sample: { id, sample, problem: sample.refused }, from };
        continue;
      }
      let meta;
      try {
        meta = jsonMeta(sample);
      } catch (err) {
        if (!(err instanceof BadSampleError)) throw err;
        yield { sample: { id, label: tarLabel(sample, {}), sample, problem: { reason: err.reason, detail: err.message } }, from };
        continue;
      }
      const label = tarLabel(sample, meta);
      const image = imageOf(sample)?.bytes;
      if (image) yield { sample: { id, label, image, sample }, from };
      else yield { sample: { id, label, sample, problem: { reason: 'missing-image', detail: `no image member (has ${members.join(', ') || 'nothing'})` } }, from };
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
      image = await readSourceFile(entryPath(ref.path, entry.uri), { version: entry.version, maxBytes: inputLimits().memberBytes });
    } catch (err) {
      // A store that cannot be reached right now says nothing about the image: the shard is retried.
      if (err instanceof ObjectStoreError && err.retryable) throw err;
      // An image outside the roots this worker reads is the run's request refused, not a bad sample.
      if (err instanceof ConfigError) throw err;
      const problem: SampleProblem =
        err instanceof FileRefusedError
          ? { reason: err.reason, detail: err.message }
          : { reason: 'missing-image', detail: `cannot read ${entry.uri}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      yield { sample: { id, label, sample: { key: id, files: { json } }, problem }, from: entry.uri };
      continue;
    }
    yield { sample: { id, label, image, sample: { key: id, files: { [imageExtension(image)]: image, json } } }, from: entry.uri };
  }
}
