import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure, ApplicationFailureCategory, CancelledFailure } from '@temporalio/common';
import { failFastOnBadInput } from '../../../activities/failures';
import { ConfigError } from '../../../lib/config/validate';
import { EncoderError } from '../../../lib/encoder/errors';
import { RetrievalInputError } from '../../../lib/retrieval/errors';
import { SourceError } from '../../../lib/sources/shard-ref';
import { ObjectStoreError } from '../../../lib/object-store';
import { TrainerJobError } from '../../../lib/trainer/job-error';
import { ShardFormatError } from '../../../lib/webdataset/reader';

const checkpoint = { path: '/c/checkpoint-00000042.pt', step: 42 };

describe('what activities retry', () => {
  const cases: { error: Error; type?: string; nonRetryable?: boolean; details?: unknown[]; benign?: boolean }[] = [
    { error: new ConfigError(['retrieval.k: too small']), type: 'ConfigError', nonRetryable: true },
    { error: new SourceError('no shards under /pool'), type: 'SourceError', nonRetryable: true },
    { error: new ShardFormatError('pool/000', 512, 'not a tar header'), type: 'ShardFormatError', nonRetryable: true },
    { error: new RetrievalInputError('the target set is empty'), type: 'RetrievalInputError', nonRetryable: true },
    { error: new EncoderError('model-missing', 'no model at /m.onnx'), type: 'Encoder:model-missing', nonRetryable: true },
    { error: new ObjectStoreError('refused', 's3://b', false), type: 'ObjectStoreMisconfigured', nonRetryable: true },
    { error: new TrainerJobError('InvalidTrainerConfig', 'bad', { stderr: 'x' }), type: 'InvalidTrainerConfig', nonRetryable: true, details: [{ stderr: 'x' }] },
    { error: new TrainerJobError('TrainerFailed', 'crashed', { stderr: 'x' }), type: 'TrainerFailed', nonRetryable: false, details: [{ stderr: 'x' }] },
    { error: new TrainerJobError('WorkerShutdown', 'moving', { checkpoint }), type: 'WorkerShutdown', nonRetryable: false, details: [{ checkpoint }], benign: true },
  ];
  for (const c of cases) {
    it(`${c.error.name}${c.type ? ` (${c.type})` : ''}`, async () => {
      const failure = await failFastOnBadInput(() => Promise.reject(c.error)).catch((err: unknown) => err);
      assert.ok(failure instanceof ApplicationFailure, String(failure));
      assert.equal(failure.message, c.error.message);
      assert.equal(failure.type, c.type);
      assert.equal(failure.nonRetryable, c.nonRetryable);
      if (c.details) assert.deepEqual(failure.details, c.details);
      assert.equal(failure.category === ApplicationFailureCategory.BENIGN, c.benign ?? false);
    });
  }

  it('a cancelled trainer job is a cancellation', async () => {
    const failure = await failFastOnBadInput(() => Promise.reject(new TrainerJobError('Cancelled', 'stopped', { checkpoint }))).catch((err: unknown) => err);
    assert.ok(failure instanceof CancelledFailure && failure.message === 'stopped', String(failure));
  });

  it('anything else, an unreachable store included, goes on as it is: retried', async () => {
    for (const error of [new Error('ECONNRESET'), new ObjectStoreError('unreachable', 's3://b', true)]) {
      assert.equal(await failFastOnBadInput(() => Promise.reject(error)).catch((err: unknown) => err), error);
    }
  });
});
