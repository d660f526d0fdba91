import { encoderIdOf } from '../encoder/encoder-id';
import { EncoderError } from '../encoder/errors';
import { localEncoderSpec } from '../encoder/model-file';
import type { ShardRef } from '../sources/shard-ref';
import { currentlyCommitted } from '../vectors/commit';
import { openStore } from '../vectors/connect';
import { readStaging, type ShardTally, tallyOf, writeStaging } from '../vectors/staging';
import { embedShardImages } from './shard-vectors';
import type { VectorDestination } from './destination';

export type StageOutcome = ShardTally & { status: 'staged' | 'already-staged' | 'already-committed' };

/**
 * Embeds one shard into its staging table, or does nothing when an earlier attempt already
 * committed or staged it as it is now (same content version). Safe to run any number of times,
 * also concurrently with itself.
 */
export async function stageShard(shard: ShardRef, destination: VectorDestination, onProgress?: (samplesDone: number) => void): Promise<StageOutcome> {
  const db = await openStore(destination.store);
  const [committed] = await currentlyCommitted(db, destination.encoderId, [shard]);
  if (committed) return { ...committed, status: 'already-committed' };
  const staged = await readStaging(db, destination.encoderId, destination.dims, shard.id);
  if (staged && staged.version === (shard.version ?? '')) return { ...tallyOf(staged), status: 'already-staged' };
  const spec = await localEncoderSpec(destination.encoder);
  const encoderId = await encoderIdOf(spec);
  if (encoderId !== destination.encoderId) {
    throw new EncoderError('model-changed', `encoder model ${spec.model} on this worker has id ${encoderId}, the run embeds with ${destination.encoderId}: the file changed or differs between workers`);
  }
  const vectors = await embedShardImages(shard, spec, onProgress);
  await writeStaging(db, destination.encoderId, destination.dims, vectors);
  return { ...tallyOf(vectors), status: 'staged' };
}
