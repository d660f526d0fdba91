import { encoderIdOf } from '../encoder/encoder-id';
import { EncoderError } from '../encoder/errors';
import { encoderSpecOf } from '../encoder/spec';
import type { ShardRef } from '../sources/shard-ref';
import { committedShards } from '../store/commit';
import { openStore } from '../store/connect';
import { readStaging, type ShardTally, tallyOf, writeStaging } from '../store/staging';
import { embedShardImages } from './shard-vectors';
import type { EmbedTarget } from './target';

export type StageOutcome = ShardTally & { status: 'staged' | 'already-staged' | 'already-committed' };

/**
 * Embeds one shard into its staging table, or does nothing when an earlier attempt already
 * committed or staged it. Safe to run any number of times, also concurrently with itself.
 */
export async function stageShard(shard: ShardRef, target: EmbedTarget, onProgress?: (samplesDone: number) => void): Promise<StageOutcome> {
  const db = await openStore(target.store);
  const [committed] = await committedShards(db, target.encoderId, [shard.id]);
  if (committed) return { ...committed, status: 'already-committed' };
  const staged = await readStaging(db, target.encoderId, target.dims, shard.id);
  if (staged) return { ...tallyOf(staged), status: 'already-staged' };
  const spec = encoderSpecOf(target.encoder);
  const encoderId = await encoderIdOf(spec);
  if (encoderId !== target.encoderId) {
    throw new EncoderError('model-changed', `encoder model ${spec.model} on this worker has id ${encoderId}, the run embeds with ${target.encoderId}: the file changed or differs between workers`);
  }
  const vectors = await embedShardImages(shard, spec, onProgress);
  await writeStaging(db, target.encoderId, target.dims, vectors);
  return { ...tallyOf(vectors), status: 'staged' };
}
