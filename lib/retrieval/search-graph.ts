// The exact search kernel as an ONNX graph: scores = targets x pool^T (Gemm, transB), then TopK per
// target row. onnxruntime's MLAS Gemm runs near the machine's fp32 peak, and TopK keeps only k
// columns, so a block of scores never crosses into JavaScript.
import { Writer } from 'protobufjs';

const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;

type Field = (w: Writer) => void;

const str = (field: number, s: string): Field => (w) => w.uint32((field << 3) | 2).string(s);
const int = (field: number, v: number): Field => (w) => w.uint32(field << 3).int64(v);
const msg = (field: number, ...fields: Field[]): Field => (w) => {
  w.uint32((field << 3) | 2).fork();
  for (const f of fields) f(w);
  w.ldelim();
};

function intAttr(name: string, value: number): Field {
  return msg(5, str(1, name), int(3, value), int(20, ATTR_INT));
}

function node(op: string, inputs: string[], outputs: string[], ...attrs: Field[]): Field {
  return msg(1, ...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, outputs[0]), str(4, op), ...attrs);
}

/** A tensor value with named symbolic (string) or fixed (number) dimensions. */
function value(field: 11 | 12, name: string, elemType: number, dims: (string | number)[]): Field {
  const dim = (d: string | number) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d));
  return msg(field, str(1, name), msg(2, msg(1, int(1, elemType), msg(2, ...dims.map(dim)))));
}

function model(graph: Field): Uint8Array {
  const w = Writer.create();
  int(1, 8)(w); // IR version
  str(2, 'septflow')(w);
  graph(w);
  msg(8, str(1, ''), int(2, 13))(w); // opset 13
  return w.finish();
}

/**
 * Inputs `targets` [T, D], `pool` [B, D] (both float32, L2-normalized for cosine) and `k` (int64 [1]);
 * outputs `scores` [T, k] (inner products, descending) and `indices` [T, k] (int64 rows of `pool`).
 * ORT's TopK breaks ties by the lower index, which keeps the search deterministic.
 */
export function searchGraph(): Uint8Array {
  return model(
    msg(
      7,
      node('Gemm', ['targets', 'pool'], ['all_scores'], intAttr('transB', 1)),
      node('TopK', ['all_scores', 'k'], ['scores', 'indices'], intAttr('axis', 1), intAttr('largest', 1), intAttr('sorted', 1)),
      str(2, 'septflow-exact-search'),
      value(11, 'targets', FLOAT, ['targets', 'dim']),
      value(11, 'pool', FLOAT, ['block', 'dim']),
      value(11, 'k', INT64, [1]),
      value(12, 'scores', FLOAT, ['targets', 'k']),
      value(12, 'indices', INT64, ['targets', 'k']),
    ),
  );
}

/** The same Gemm without TopK: the machine's fp32 matrix-product rate, the search's upper bound. */
export function matmulGraph(): Uint8Array {
  return model(
    msg(
      7,
      node('Gemm', ['targets', 'pool'], ['all_scores'], intAttr('transB', 1)),
      str(2, 'septflow-matmul'),
      value(11, 'targets', FLOAT, ['targets', 'dim']),
      value(11, 'pool', FLOAT, ['block', 'dim']),
      value(12, 'all_scores', FLOAT, ['targets', 'block']),
    ),
  );
}
