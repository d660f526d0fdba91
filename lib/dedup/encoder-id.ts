import type { RunConfig } from '../config/schema';
import { encoderIdOf } from '../encoder/encoder-id';
import { localEncoderSpec } from '../encoder/model-file';

/**
 * The id of the encoder the pool's groups were found on (their tables are keyed by it): the
 * `dedup.encoder` the run names, or else the retrieval encoder, `retrievalEncoderId`.
 */
export async function dedupEncoderId(config: RunConfig, retrievalEncoderId: string): Promise<string> {
  const encoder = config.dedup?.encoder;
  return encoder ? encoderIdOf(await localEncoderSpec(encoder, 'dedup.encoder')) : retrievalEncoderId;
}
