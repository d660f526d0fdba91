// The exact search kernel as an ONNX graph: scores = targets x pool^T (Gemm, transB), then TopK per
// target row. onnxruntime's MLAS Gemm runs near the machine's fp32 peak, and TopK keeps only k
// columns, so a block of scores never crosses into JavaScript.
import { encodeModel, type TensorValue } from '../onnx/graph';

const GEMM = { op: 'Gemm', inputs: ['targets', 'pool'], outputs: ['all_scores'], attributes: { transB: 1 } };
const VECTORS: TensorValue[] = [
  { name: 'targets', type: 'float', dims: ['targets', 'dim'] },
  { name: 'pool', type: 'float', dims: ['block', 'dim'] },
];

/**
 * Inputs `targets` [T, D], `pool` [B, D] (both float32, L2-normalized for cosine) and `k` (int64 [1]);
 * outputs `scores` [T, k] (inner products, descending) and `indices` [T, k] (int64 rows of `pool`).
 * ORT's TopK breaks ties by the lower index, which keeps the search deterministic.
 */
export function searchGraph(): Uint8Array {
  return encodeModel({
    name: 'septflow-exact-search',
    nodes: [GEMM, { op: 'TopK', inputs: ['all_scores', 'k'], outputs: ['scores', 'indices'], attributes: { axis: 1, largest: 1, sorted: 1 } }],
    inputs: [...VECTORS, { name: 'k', type: 'int64', dims: [1] }],
    outputs: [
      { name: 'scores', type: 'float', dims: ['targets', 'k'] },
      { name: 'indices', type: 'int64', dims: ['targets', 'k'] },
    ],
  });
}

/** The same Gemm without TopK: the machine's fp32 matrix-product rate, the search's upper bound. */
export function matmulGraph(): Uint8Array {
  return encodeModel({
    name: 'septflow-matmul',
    nodes: [GEMM],
    inputs: VECTORS,
    outputs: [{ name: 'all_scores', type: 'float', dims: ['targets', 'block'] }],
  });
}
