import * as ort from 'onnxruntime-node';
import { RetrievalInputError } from './errors';
import { RunningTopK } from './running-topk';
import { searchGraph } from './search-graph';
import { normalizeRows } from './normalize';

/** A block of pool vectors, as streamed from the store: `vectors` holds ids.length rows of `dim` floats. */
export interface PoolBlock {
  vectors: Float32Array;
  /** The pool id of row r, decoded on demand (most rows of a block never become a hit). */
  idOf(row: number): string;
  rows: number;
}

export interface ExactSearchOptions {
  k: number;
  /** Targets per matrix product: larger amortizes the pool read, smaller bounds the score block's memory. */
  targetBatch?: number;
  intraOpThreads?: number;
  /** Called after each pool block, e.g. to heartbeat. */
  onBlock?: (rowsScanned: number) => void | Promise<void>;
}

let session: Promise<ort.InferenceSession> | undefined;
let sessionThreads: number | undefined;

function searchSession(threads: number): Promise<ort.InferenceSession> {
  if (!session || sessionThreads !== threads) {
    sessionThreads = threads;
    session = ort.InferenceSession.create(searchGraph(), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  }
  return session;
}

/**
 * Exact cosine top-k of every target over a pool streamed once in blocks: per block and target
 * batch, one Gemm + TopK in onnxruntime, then a linear merge into the running top-k. Targets are
 * L2-normalized here; pool blocks are normalized as they arrive, so unnormalized stores still give
 * cosine distances.
 */
export async function exactSearch(targets: Float32Array, dim: number, pool: AsyncIterable<PoolBlock>, opts: ExactSearchOptions): Promise<RunningTopK> {
  const count = targets.length / dim;
  if (!Number.isInteger(count) || count === 0) throw new RetrievalInputError('exact search: the target set is empty');
  if (!Number.isInteger(opts.k) || opts.k <= 0) throw new RetrievalInputError(`exact search: k must be a positive integer, got ${opts.k}`);
  const batch = opts.targetBatch ?? 2048;
  const s = await searchSession(opts.intraOpThreads ?? 0);
  const unit = normalizeRows(Float32Array.from(targets), dim);
  const batches = Array.from({ length: Math.ceil(count / batch) }, (_, b) => {
    const first = b * batch;
    const n = Math.min(batch, count - first);
    return { first, n, tensor: new ort.Tensor('float32', unit.subarray(first * dim, (first + n) * dim), [n, dim]) };
  });
  const top = new RunningTopK(count, opts.k);
  let scanned = 0;
  for await (const block of pool) {
    if (block.rows === 0) continue;
    if (block.vectors.length !== block.rows * dim) {
      throw new RetrievalInputError(`exact search: pool vectors have dimension ${block.vectors.length / block.rows}, targets ${dim}`);
    }
    const width = Math.min(opts.k, block.rows);
    const poolTensor = new ort.Tensor('float32', normalizeRows(Float32Array.from(block.vectors), dim), [block.rows, dim]);
    const k = new ort.Tensor('int64', BigInt64Array.of(BigInt(width)), [1]);
    for (const b of batches) {
      const out = await s.run({ targets: b.tensor, pool: poolTensor, k });
      const scores = out.scores.data as Float32Array;
      // Cosine distance: 1 - similarity; float64 so equal scores stay equal after the subtraction.
      const distances = new Float64Array(scores.length);
      for (let i = 0; i < scores.length; i++) distances[i] = 1 - scores[i];
      top.mergeBlock(b.first, b.n, width, distances, out.indices.data as BigInt64Array, block.idOf);
    }
    scanned += block.rows;
    await opts.onBlock?.(scanned);
  }
  return top;
}
