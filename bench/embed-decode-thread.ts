// One thread of the decode measurement: preprocesses its share of images with the project's
// preprocessing, `rounds` times, and reports how many it did.
import { parentPort, workerData } from 'node:worker_threads';
import { type DecodeLimits, type Preprocessing, preprocessInto, tensorLength } from '../lib/preprocess';

const { images, preprocessing, limits, rounds } = workerData as { images: Uint8Array[]; preprocessing: Preprocessing; limits: DecodeLimits; rounds: number };

(async () => {
  const out = new Float32Array(tensorLength(preprocessing) * 64);
  const buffers = images.map((i) => Buffer.from(i.buffer, i.byteOffset, i.byteLength));
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    // 64 in flight: sharp works on the libuv pool, so awaiting one image at a time would idle it.
    for (let i = 0; i < buffers.length; i += 64) {
      await Promise.all(buffers.slice(i, i + 64).map((b, k) => preprocessInto(b, preprocessing, limits, out, k * tensorLength(preprocessing))));
      done += Math.min(64, buffers.length - i);
    }
  }
  parentPort!.postMessage(done);
})();
