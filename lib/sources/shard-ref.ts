/** A reference to one shard of a source: small enough for workflow payloads, stable across runs. */
export interface ShardRef {
  /** `<source>/<shard name>`: deterministic, so retried and restarted runs address the same shard. */
  id: string;
  source: string;
  path: string;
}

/** A source that cannot be listed (missing path, no shards): not retryable, names the source. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}
