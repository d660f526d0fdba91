import type { RunConfig } from '../config/schema';

/**
 * The configuration the pool's deduplication runs under: the run's, with `dedup.encoder` as its
 * encoder when it names one (a copy-detection model), so that embedding, planning, joining and the
 * groups' tables all key on that encoder's id. The same object when it names none. Pure: the
 * workflows call it.
 */
export function dedupRunConfig(config: RunConfig): RunConfig {
  // Configurations resolved before the dedup section existed have none.
  const encoder = config.dedup?.encoder;
  return encoder ? { ...config, encoder } : config;
}
