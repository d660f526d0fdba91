import { createHash } from 'node:crypto';

/** A reference to one shard of a source: small enough for workflow payloads, stable across runs. */
export interface ShardRef {
  /** `<source>/<shard name>`: deterministic, so retried and restarted runs address the same shard. */
  id: string;
  source: string;
  /** The tar file, for manifest shards the JSONL manifest, for folder shards the folder: a local path or an `s3://` URI. */
  path: string;
  /**
   * The shard's content version when it was listed: a local tar's `<size>-<mtimeMs>`, an object's
   * ETag, a manifest or folder shard's hash of its lines (a folder's lines carry each file's size
   * and mtime or ETag). Embedding skips a committed shard only when id and version match. Absent in
   * plans written before versions were kept.
   */
  version?: string;
  /** A tar's size in bytes, as listed. */
  bytes?: number;
  /** How the shard is stored; absent means a WebDataset tar. */
  format?: 'webdataset' | 'manifest' | 'folder';
  /** Manifest shards: the byte range [start, end) of their lines in `path`. */
  range?: [number, number];
  /**
   * Folder shards: the span of the folder's sorted relative paths they hold, after the first ('' for
   * the folder's first shard) up to and including the second (lib/sources/folder.ts).
   */
  span?: [string, string];
}

/**
 * Whether a shard holds its images (a tar) rather than lists them by URI (a manifest or folder
 * shard): a listing's size in bytes is unknown, no program can read its images by its path, and
 * when it is listed again its samples may have moved to another shard of the source.
 */
export const holdsImages = (shard: { format?: ShardRef['format'] }) => (shard.format ?? 'webdataset') === 'webdataset';

/**
 * What a list of shards holds, as one short hash of their ids and versions in order: a shard
 * replaced, added, removed or reordered changes it; no image is read. Results computed from a pool or a
 * target are reused only under the same fingerprint (lib/pipeline/stage-inputs.ts,
 * lib/target/labeled-subset.ts). Named parts (`{ id: 'train', version: <fingerprint> }`) combine
 * fingerprints alike.
 */
export function contentFingerprint(shards: readonly Pick<ShardRef, 'id' | 'version'>[]): string {
  const hash = createHash('sha256');
  for (const { id, version } of shards) hash.update(`${id}\0${version ?? ''}\n`);
  return hash.digest('hex').slice(0, 32);
}

/** A source that cannot be listed (missing path, no shards): not retryable, names the source. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}
