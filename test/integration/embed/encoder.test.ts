// Encoder identity and the encoder's systemic errors. Demo CNN test encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { prepareEncoder } from '../../../activities/embed';
import { parseRunConfig } from '../../../lib/config/validate';
import { Embedder } from '../../../lib/embed/embedder';
import { encoderIdOf } from '../../../lib/encoder/encoder-id';
import { encoderSpecOf } from '../../../lib/encoder/spec';
import { DEMO_CNN, ensureTestEncoder } from '../../../lib/encoder/test-encoders';
import { cudaFacts, cudaUnavailable } from '../../../lib/onnx/cuda-provider';
import { tempDir } from '../../support/tmp';

const idOf = (encoder: object) => encoderIdOf(encoderSpecOf(parseRunConfig({ demo: true, encoder }).encoder));

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, String(err));
    return err;
  }
  assert.fail('expected a failure');
}

describe('encoder', () => {
  after(() => Embedder.closeAll());

  it('derives its id from the model bytes and the preprocessing, nothing else', async () => {
    const dir = tempDir();
    const model = await ensureTestEncoder(DEMO_CNN, dir);
    const id = await idOf({ model });
    assert.match(id, /^[0-9a-f]{16}-[0-9a-f]{8}$/);
    assert.equal(await idOf({ model }), id, 'stable');
    assert.equal(await idOf({ model, batchSize: 7, threads: 1, intraOpThreads: 1, maxPixels: 1000 }), id, 'batching, threads and limits change no vector');
    copyFileSync(model, join(dir, 'copy.onnx'));
    assert.equal(await idOf({ model: join(dir, 'copy.onnx') }), id, 'a copied model keeps its id');
    assert.notEqual(await idOf({ model, mean: [0.4] }), id);
    assert.notEqual(await idOf({ model, l2Normalize: false }), id);
    writeFileSync(join(dir, 'other.onnx'), Buffer.concat([DEMO_CNN.build(), Buffer.from([0])]));
    assert.notEqual((await idOf({ model: join(dir, 'other.onnx') })).slice(0, 16), id.slice(0, 16));
  });

  it('generates the same test encoder bytes every time', () => {
    assert.deepEqual(DEMO_CNN.build(), DEMO_CNN.build());
  });

  it('fails fast, not retryable, on a missing model or an input shape the model rejects', async () => {
    const dir = tempDir();
    const model = await ensureTestEncoder(DEMO_CNN, dir);
    const store = join(dir, 'lancedb');
    const missing = await failure(prepareEncoder(parseRunConfig({ demo: true, encoder: { model: join(dir, 'nope.onnx') } }).encoder, store));
    assert.equal(missing.nonRetryable, true);
    assert.match(missing.message, /not found: .*nope\.onnx/);
    const unset = await failure(prepareEncoder(parseRunConfig({ demo: true }).encoder, store));
    assert.equal(unset.nonRetryable, true);
    assert.match(unset.message, /encoder\.model is not set/);
    const rgb = { model, channels: 3, mean: [0.5], std: [0.5] };
    const shape = await failure(prepareEncoder(parseRunConfig({ demo: true, encoder: rgb }).encoder, store));
    assert.equal(shape.nonRetryable, true);
    assert.equal(shape.type, 'Encoder:shape-mismatch');
    assert.match(shape.message, /rejects input \[n, 3, 28, 28\]/);
    const names = await failure(prepareEncoder(parseRunConfig({ demo: true, encoder: { model, outputName: 'features' } }).encoder, store));
    assert.equal(names.type, 'Encoder:shape-mismatch');
  });

  it('fails fast, not retryable, naming encoder.device, where CUDA is asked for and this worker lacks it', async (t) => {
    const expected = cudaUnavailable(cudaFacts());
    if (expected === undefined) return t.skip('this worker has a GPU and the CUDA provider');
    const dir = tempDir();
    const model = await ensureTestEncoder(DEMO_CNN, dir);
    const cuda = await failure(prepareEncoder(parseRunConfig({ demo: true, encoder: { model, device: 'cuda' } }).encoder, join(dir, 'lancedb')));
    assert.equal(cuda.nonRetryable, true);
    assert.equal(cuda.type, 'Encoder:device-unavailable');
    assert.equal(cuda.message, expected);
  });

  it('leaves an unreachable store retryable', async () => {
    const dir = tempDir();
    const model = await ensureTestEncoder(DEMO_CNN, dir);
    writeFileSync(join(dir, 'a-file'), '');
    // A store path under a regular file cannot be created, like a store that does not answer.
    await assert.rejects(prepareEncoder(parseRunConfig({ demo: true, encoder: { model } }).encoder, join(dir, 'a-file', 'lancedb')), (err) => {
      assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), String(err));
      return true;
    });
  });
});
