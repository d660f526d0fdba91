// What a search kernel is to the search thread that runs it (search-thread.ts): one target batch
// against one pool block, returning the scores that can still enter a list. Two implement it:
// onnxruntime's Gemm (onnx-kernel.ts) and OpenBLAS's sgemm in a native addon (blas-kernel.ts); the
// worker picks one (kernel-choice.ts). Both are exact; their scores may differ in the last bit, so
// only neighbours tied within float32 rounding may come in another order.
import type { BestScores } from './best-scores';

/** Consecutive pool rows whose best score is held against a target's floor at once (the onnx kernel's candidatesGraph). */
export const GROUP = 32;

/** A block of pool vectors as the kernel takes it: L2-normalized, zero rows after `rows` up to a whole GROUP. */
export interface KernelBlock {
  vectors: Float32Array;
  rows: number;
}

/** A target batch as its thread keeps it, across the blocks of one search. */
export interface KernelBatch {
  /** L2-normalized, [n x dim]. */
  targets: Float32Array;
  best: BestScores;
}

/** Scores of one tile worth offering: target `targets[i]` (row of its batch), block row `rows[i]`, `scores[i]`. */
export interface TileHits {
  targets: Int32Array;
  rows: Int32Array;
  scores: Float32Array;
}

export interface SearchKernel {
  /**
   * One batch against one block, counted in the batch's best scores: every score of the block
   * among the k best its target has seen so far, ties with the k-th included (so the merge can
   * break them by pool id), and perhaps some that are not. What runs depends only on the order of
   * the batch's blocks, never on timing.
   */
  search(batch: KernelBatch, dim: number, block: KernelBlock): Promise<TileHits[]>;
  release(): Promise<void>;
}
