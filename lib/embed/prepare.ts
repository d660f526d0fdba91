import { encoderIdOf } from '../encoder/encoder-id';
import { localEncoderSpec } from '../encoder/model-file';
import type { EncoderConfig } from '../encoder/spec';
import { openStore } from '../vectors/connect';
import { ensureEncoderTables } from '../vectors/tables';
import { Embedder } from './embedder';
import type { VectorDestination } from './destination';

/**
 * Checks the encoder once before any shard is embedded (the model loads, takes the configured
 * input, yields vectors), fixes its id, and creates its tables in the store.
 */
export async function prepareVectorDestination(encoder: EncoderConfig, store: string): Promise<VectorDestination> {
  const spec = await localEncoderSpec(encoder);
  const encoderId = await encoderIdOf(spec);
  const { dims } = await Embedder.of(spec).ready;
  await ensureEncoderTables(await openStore(store), encoderId, dims);
  return { encoder, encoderId, dims, store };
}
