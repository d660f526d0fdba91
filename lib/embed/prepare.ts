import { encoderIdOf } from '../encoder/encoder-id';
import { type EncoderConfig, encoderSpecOf } from '../encoder/spec';
import { openStore } from '../store/connect';
import { ensureEncoderTables } from '../store/tables';
import { Embedder } from './embedder';
import type { EmbedTarget } from './target';

/**
 * Checks the encoder once before any shard is embedded (the model loads, takes the configured
 * input, yields vectors), fixes its id, and creates its tables in the store.
 */
export async function prepareEmbedTarget(encoder: EncoderConfig, store: string): Promise<EmbedTarget> {
  const spec = encoderSpecOf(encoder);
  const encoderId = await encoderIdOf(spec);
  const { dims } = await Embedder.of(spec).ready;
  await ensureEncoderTables(await openStore(store), encoderId, dims);
  return { encoder, encoderId, dims, store };
}
