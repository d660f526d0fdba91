// Inference alone on a pre-built batch of random input, repeated for a while: what an encoder
// session sustains without decoding. bench:embed measures it on the CPU, bench/gpu-check.sh on
// both devices.
import { openEncoderSession } from '../lib/encoder/session';
import type { EncoderSpec } from '../lib/encoder/spec';
import { tensorLength } from '../lib/preprocess';

/** Images per second (one decimal) of `spec`'s encoder over `seconds` after one warm-up batch. */
export async function inferenceRate(spec: EncoderSpec, seconds: number): Promise<number> {
  const session = await openEncoderSession(spec);
  try {
    const batch = new Float32Array(tensorLength(spec.preprocessing) * spec.batchSize).map(() => Math.random() - 0.5);
    await session.run(batch, spec.batchSize);
    let images = 0;
    const start = Date.now();
    while (Date.now() - start < seconds * 1000) {
      await session.run(batch, spec.batchSize);
      images += spec.batchSize;
    }
    return Math.round((images / (Date.now() - start)) * 1000 * 10) / 10;
  } finally {
    await session.release();
  }
}
