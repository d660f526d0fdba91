/** A reference to one shard of a source: small enough for workflow payloads, stable across runs. */
export interface ShardRef {
  /** `<source>/<shard name>`: deterministic, so retried and restarted runs address the same shard. */
  id: string;
  source: string;
  /** The tar file, or for manifest shards the JSONL manifest: a local path or an `s3://` URI. */
  path: string;
  /**
   * The shard's content version when it was listed: a local tar's `<size>-<mtimeMs>`, an object's
   * ETag, a manifest shard's hash of its lines (folder listings carry each file's size and mtime or
   * ETag in its line). Embedding skips a committed shard only when id and version match. Absent in
   * plans written before versions were kept.
   */
  version?: string;
  /** A tar's size in bytes, as listed. */
  bytes?: number;
  /** How the shard is stored; absent means a WebDataset tar. */
  format?: 'webdataset' | 'manifest';
  /** Manifest shards: the byte range [start, end) of their lines in `path`. */
  range?: [number, number];
}

/** A source that cannot be listed (missing path, no shards): not retryable, names the source. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}
