import { inputLimits } from '../input-limits';
import { type Preprocessing, preprocessInto, tensorLength } from '../preprocess';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';

/** Images are compared as 32x32 grayscale: enough to tell a copy from a look-alike, cheap at any size. */
const THUMBNAIL: Preprocessing = { channels: 1, size: 32, crop: 32, mean: [0], std: [1] };

/** Zero-mean, unit-norm thumbnails of the wanted ids, read shard by shard (undecodable images are left out). */
async function thumbnails(ids: Set<string>, shards: ShardRef[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const shard of shards) {
    for await (const { id, image } of sourceSamples(shard)) {
      if (!image || !ids.has(id)) continue;
      const t = new Float32Array(tensorLength(THUMBNAIL));
      try {
        await preprocessInto(image, THUMBNAIL, { maxPixels: inputLimits().pixels }, t, 0);
      } catch {
        continue;
      }
      const mean = t.reduce((a, b) => a + b, 0) / t.length;
      let norm = 0;
      for (let i = 0; i < t.length; i++) norm += (t[i] -= mean) ** 2;
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let i = 0; i < t.length; i++) t[i] *= scale;
      out.set(id, t);
    }
  }
  return out;
}

const correlation = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i], 0);

/**
 * Confirms the leakage guard's candidate pairs on pixels: a pool image is a duplicate of a target
 * test image when their grayscale thumbnails correlate at or above `minCorrelation`. Embeddings
 * flag candidates cheaply, but a self-supervised encoder also maps distinct look-alikes (two
 * handwritten 1s) above any cosine threshold; pixels tell a copy (a re-encode, a resize) from a
 * look-alike. Measured on the demo: no two distinct MNIST digits correlate at 0.99 or above.
 */
export async function pixelDuplicates(
  pairs: { testId: string; poolId: string }[],
  shards: { test: ShardRef[]; pool: ShardRef[] },
  minCorrelation: number,
): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const test = await thumbnails(new Set(pairs.map((p) => p.testId)), shards.test);
  const pool = await thumbnails(new Set(pairs.map((p) => p.poolId)), shards.pool);
  const confirmed = new Set<string>();
  for (const { testId, poolId } of pairs) {
    const a = test.get(testId);
    const b = pool.get(poolId);
    // A pair whose image cannot be read stays excluded: when in doubt, do not risk leakage.
    if (!a || !b || correlation(a, b) >= minCorrelation) confirmed.add(poolId);
  }
  return confirmed;
}
