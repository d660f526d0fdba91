// The exact search's kernels as ONNX graphs: scores = targets x pool^T (Gemm, transB), then either
// TopK per target row or the floor filter of candidatesGraph. onnxruntime's MLAS Gemm is the fp32
// matrix product the worker has, and both keep only what can enter a list, so a tile of scores
// never crosses into JavaScript.
import { encodeModel, type TensorValue } from '../onnx/graph';

/** TensorProto.DataType of a Cast's `to`. */
const INT32 = 6;
const GEMM = { op: 'Gemm', inputs: ['targets', 'pool'], outputs: ['all_scores'], attributes: { transB: 1 } };
const VECTORS: TensorValue[] = [
  { name: 'targets', type: 'float', dims: ['targets', 'dim'] },
  { name: 'pool', type: 'float', dims: ['block', 'dim'] },
];

/**
 * Inputs `targets` [T, D], `pool` [B, D] (both float32, L2-normalized for cosine) and `k` (int64 [1]);
 * outputs `scores` [T, k] (inner products, descending) and `indices` [T, k] (int64 rows of `pool`).
 * ORT's TopK breaks ties by the lower index; the kernel asks for one more than it keeps, to see
 * whether a tie straddles the cut (onnx-kernel.ts).
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

/**
 * The search kernel once a target's list is full, which is nearly every tile of the pool: only
 * scores at or above the target's current k-th (`floor`, [T, 1]) can enter its list. Instead of a
 * TopK over every score (a heap step per score: up to a Gemm's time again), the scores are cut
 * into groups of consecutive pool rows (`group_shape` = [0, -1, group]; the block is padded to a
 * multiple of the group), each group's maximum (one vectorized pass) is held against the floor,
 * and within the few groups that reach it, each score. Out come the groups that reached it,
 * `groups` [n, 2] (target row, group), and the scores that did, `hits` [2, m] (place in the
 * group, row of `groups`) and `hit_scores` [m]; int32, so JavaScript reads them without BigInts.
 * Exact: every score at or above the floor is a hit, and a lower floor only lets more through.
 */
export function candidatesGraph(): Uint8Array {
  return encodeModel({
    name: 'septflow-exact-candidates',
    nodes: [
      GEMM,
      { op: 'Reshape', inputs: ['all_scores', 'group_shape'], outputs: ['grouped'] },
      { op: 'ReduceMax', inputs: ['grouped'], outputs: ['group_max'], attributes: { axes: [2], keepdims: 0 } },
      { op: 'Shape', inputs: ['group_max'], outputs: ['group_grid'] },
      { op: 'Expand', inputs: ['floor', 'group_grid'], outputs: ['group_grid_floor'] },
      { op: 'GreaterOrEqual', inputs: ['group_max', 'group_grid_floor'], outputs: ['group_reaches'] },
      { op: 'NonZero', inputs: ['group_reaches'], outputs: ['reaching'] },
      { op: 'Transpose', inputs: ['reaching'], outputs: ['reaching_rows'], attributes: { perm: [1, 0] } },
      { op: 'GatherND', inputs: ['grouped', 'reaching_rows'], outputs: ['group_scores'] },
      { op: 'GatherND', inputs: ['group_grid_floor', 'reaching_rows'], outputs: ['group_floors'] },
      // Places first, so that each group's floor broadcasts along the last axis.
      { op: 'Transpose', inputs: ['group_scores'], outputs: ['place_scores'], attributes: { perm: [1, 0] } },
      { op: 'GreaterOrEqual', inputs: ['place_scores', 'group_floors'], outputs: ['reaches'] },
      { op: 'NonZero', inputs: ['reaches'], outputs: ['hits64'] },
      { op: 'Transpose', inputs: ['hits64'], outputs: ['hit_rows'], attributes: { perm: [1, 0] } },
      { op: 'GatherND', inputs: ['place_scores', 'hit_rows'], outputs: ['hit_scores'] },
      { op: 'Cast', inputs: ['reaching_rows'], outputs: ['groups'], attributes: { to: INT32 } },
      { op: 'Cast', inputs: ['hits64'], outputs: ['hits'], attributes: { to: INT32 } },
    ],
    inputs: [...VECTORS, { name: 'floor', type: 'float', dims: ['targets', 1] }, { name: 'group_shape', type: 'int64', dims: [3] }],
    outputs: [
      { name: 'groups', type: 'int32', dims: ['reached', 2] },
      { name: 'hits', type: 'int32', dims: [2, 'hit'] },
      { name: 'hit_scores', type: 'float', dims: ['hit'] },
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
