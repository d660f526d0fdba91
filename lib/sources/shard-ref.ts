/** A reference to one shard of a source: small enough for workflow payloads, stable across runs. */
export interface ShardRef {
  /** `<source>/<shard name>`: deterministic, so retried and restarted runs address the same shard. */
  id: string;
  source: string;
  /** The tar file, or for manifest shards the JSONL manifest. */
  path: string;
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
