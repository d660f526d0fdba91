// Body of one embed thread: decodes, preprocesses and infers whole batches, off the worker's main
// thread, whose event loop must stay free for heartbeats and cancellation (onnxruntime's run()
// blocks the thread that calls it).
import { parentPort, workerData } from 'node:worker_threads';
import { EncoderError } from '../encoder/errors';
import { type EncoderSession, openEncoderSession } from '../encoder/session';
import type { EncoderSpec } from '../encoder/spec';
import { BadSampleError, preprocessInto, tensorLength } from '../preprocess';
import { type BadSample, type BatchRequest, type BatchResult, CLOSE, type ThreadMessage } from './thread-protocol';

const spec = workerData as EncoderSpec;
const port = parentPort!;
const post = (message: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function embedBatch(session: EncoderSession, request: BatchRequest): Promise<BatchResult> {
  const count = request.offsets.length - 1;
  const length = tensorLength(spec.preprocessing);
  const tensors = new Float32Array(count * length);
  const ok = new Int8Array(count);
  const bad: BadSample[] = [];
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset + request.offsets[i], request.offsets[i + 1] - request.offsets[i]);
      try {
        await preprocessInto(bytes, spec.preprocessing, spec.limits, tensors, i * length);
        ok[i] = 1;
      } catch (err) {
        if (!(err instanceof BadSampleError)) throw err;
        bad.push({ index: i, reason: err.reason, detail: err.message });
      }
    }),
  );
  // Close the gaps left by bad images so the model sees only good ones.
  const embedded = new Int32Array(count - bad.length);
  for (let i = 0, k = 0; i < count; i++) {
    if (!ok[i]) continue;
    if (k !== i) tensors.copyWithin(k * length, i * length, (i + 1) * length);
    embedded[k++] = i;
  }
  const vectors = embedded.length > 0 ? await session.run(tensors, embedded.length) : new Float32Array(0);
  bad.sort((a, b) => a.index - b.index);
  return { vectors, embedded, bad };
}

function failure(err: unknown): ThreadMessage & { type: 'failed' } {
  return { type: 'failed', error: { message: (err as Error).message ?? String(err), problem: err instanceof EncoderError ? err.problem : undefined } };
}

// Threads end by closing their port, never by being terminated: a thread torn down while it holds
// an onnxruntime session aborts the whole process.
openEncoderSession(spec).then(
  (session) => {
    port.on('message', (request: BatchRequest | typeof CLOSE) => {
      if (request === CLOSE) {
        void session.release().finally(() => port.close());
        return;
      }
      embedBatch(session, request).then(
        (result) => post({ type: 'result', id: request.id, result }, [result.vectors.buffer as ArrayBuffer, result.embedded.buffer as ArrayBuffer]),
        (err) => post({ ...failure(err), id: request.id }),
      );
    });
    post({ type: 'ready', dims: session.dims });
  },
  (err) => {
    post(failure(err));
    port.close();
  },
);
