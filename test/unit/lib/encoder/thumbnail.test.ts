import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { resolveEncoderSettings } from '../../../../lib/encoder/exported';
import { thumbnailModel, thumbnailSpecIssue, writeThumbnailEncoder } from '../../../../lib/encoder/thumbnail';
import { seededRandom } from '../../../../lib/retrieval/synthetic';
import { parseRunConfig } from '../../../../lib/config/validate';
import { overrideEnv } from '../../../support/env';
import { tempDir } from '../../../support/tmp';

async function embed(model: Uint8Array, images: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', images, dims) });
    return out.embedding.data as Float32Array;
  } finally {
    await session.release();
  }
}

const cosine = (a: Float32Array, b: Float32Array) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i] * b[i]), (aa += a[i] * a[i]), (bb += b[i] * b[i]);
  return ab / Math.sqrt(aa * bb);
};

describe('thumbnail copy detector', () => {
  const dir = tempDir();
  overrideEnv()({ SEPT_READ_ROOTS: dir });

  it("embeds an image as its cells' means, centred on the image's mean", async () => {
    // One 4x4 image, 2x2 cells: the cell means 1, 2, 3, 4 (mean 2.5) centred.
    const image = Float32Array.from([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    assert.deepEqual(Array.from(await embed(thumbnailModel({ channels: 1, size: 4, cells: 2 }), image, [1, 1, 4, 4])), [-1.5, -0.5, 0.5, 1.5]);
  });

  it('scores a copy under brightness, contrast and noise near 1, another image near 0', async () => {
    const random = seededRandom(3);
    const side = 28;
    const original = Float32Array.from({ length: side * side }, () => random() * 2 - 1);
    const copy = original.map((v) => 0.8 * v + 0.1 + 0.02 * (random() - 0.5));
    const other = Float32Array.from({ length: side * side }, () => random() * 2 - 1);
    const v = await embed(thumbnailModel({ channels: 1, size: side, cells: 14 }), Float32Array.from([...original, ...copy, ...other]), [3, 1, side, side]);
    const at = (i: number) => v.subarray(i * 196, (i + 1) * 196);
    assert.ok(cosine(at(0), at(1)) > 0.99, `copy ${cosine(at(0), at(1))}`);
    assert.ok(Math.abs(cosine(at(0), at(2))) < 0.3, `other ${cosine(at(0), at(2))}`);
  });

  it('refuses a thumbnail that does not divide the image, and writes a model its encoder.json completes', async () => {
    assert.match(thumbnailSpecIssue({ channels: 1, size: 28, cells: 5 })!, /cells must be a positive integer that divides size 28, got 5/);
    assert.match(thumbnailSpecIssue({ channels: 2 as 1, size: 28, cells: 7 })!, /channels must be 1 or 3/);
    assert.throws(() => thumbnailModel({ channels: 3, size: 32, cells: 0 }), /thumbnail encoder: cells must/);

    const model = await writeThumbnailEncoder(join(dir, 'rgb'), { channels: 3, size: 32, cells: 8 });
    assert.deepEqual(readFileSync(model), Buffer.from(thumbnailModel({ channels: 3, size: 32, cells: 8 })));
    // A run naming only the model gets its preprocessing from the encoder.json beside it.
    const config = parseRunConfig({ demo: true, dedup: { enabled: true, encoder: { model } } });
    const encoder = await resolveEncoderSettings(config.dedup.encoder!, 'dedup.encoder');
    assert.deepEqual([encoder.channels, encoder.size, encoder.crop, encoder.l2Normalize], [3, 32, 32, true]);
    // And one that gives a setting the model contradicts is refused, naming the field.
    const wrong = parseRunConfig({ demo: true, dedup: { enabled: true, encoder: { model, size: 28, crop: 28 } } });
    await assert.rejects(resolveEncoderSettings(wrong.dedup.encoder!, 'dedup.encoder'), /dedup\.encoder\.size: 28 in the run configuration, but 32 in/);
  });
});
