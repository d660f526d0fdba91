/** What `sept status` shows while the pool is embedded. */
export interface EmbedProgress {
  encoderId?: string;
  shardsDone: number;
  shardsTotal: number;
  samplesEmbedded: number;
  quarantined: number;
  /** Samples (embedded or quarantined) per second over the shards this run committed itself. */
  imagesPerSecond: number;
}
