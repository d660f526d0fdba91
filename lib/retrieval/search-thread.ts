// Body of one search thread: runs the exact search's kernel (search-kernel.ts; the one the
// searching thread chose, kernel-choice.ts) for the target batches the searching thread gave it, on
// the blocks it sends, off its main thread: a kernel's matrix product blocks the thread that runs
// it, and the main thread must meanwhile read the next block and merge what was found.
import { parentPort, workerData } from 'node:worker_threads';
import { BestScores } from './best-scores';
import { BlasKernel } from './blas-kernel';
import type { SearchKernelName } from './kernel-choice';
import { OnnxKernel } from './onnx-kernel';
import type { KernelBatch, KernelBlock, SearchKernel } from './search-kernel';
import { CLOSE, type ThreadReply, type ThreadRequest } from './search-threads';

const port = parentPort!;
const post = (reply: ThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const blocks = new Map<number, KernelBlock>();
const searches = new Map<number, { dim: number; batches: Map<number, KernelBatch> }>();

// Threads end by closing their port, never by being terminated: a thread torn down while it holds
// an onnxruntime session aborts the whole process.
const kernelName = (workerData as { kernel: SearchKernelName }).kernel;
(kernelName === 'blas' ? BlasKernel.open() : OnnxKernel.open()).then(
  (kernel: SearchKernel) => {
    // One request at a time, in the order sent: a batch's blocks must come in scan order.
    let queue = Promise.resolve();
    port.on('message', (request: ThreadRequest | typeof CLOSE) => {
      if (request === CLOSE) {
        void queue.then(() => kernel.release()).finally(() => port.close());
      } else if (request.type === 'open') {
        const batches = request.batches.map((b): [number, KernelBatch] => [b.batch, { targets: b.targets, best: new BestScores(b.targets.length / request.dim, request.k) }]);
        searches.set(request.search, { dim: request.dim, batches: new Map(batches) });
      } else if (request.type === 'end') searches.delete(request.search);
      // onnxruntime takes no shared memory: its kernel reads a copy of the block, made once here.
      else if (request.type === 'block') blocks.set(request.block, { vectors: kernelName === 'onnx' ? request.vectors.slice() : request.vectors, rows: request.rows });
      else if (request.type === 'drop') blocks.delete(request.block);
      else {
        queue = queue.then(async () => {
          try {
            const search = searches.get(request.search)!;
            const found = await kernel.search(search.batches.get(request.batch)!, search.dim, blocks.get(request.block)!);
            const transfer = found.flatMap((hits) => [hits.targets, hits.rows, hits.scores]);
            post({ type: 'found', id: request.id, found }, transfer.map((a) => a.buffer as ArrayBuffer));
          } catch (err) {
            post({ type: 'failed', id: request.id, message: (err as Error).message ?? String(err) });
          }
        });
      }
    });
    post({ type: 'ready' });
  },
  (err) => {
    post({ type: 'failed', message: (err as Error).message ?? String(err) });
    port.close();
  },
);
