// ONNX models written directly as protobuf (onnx.proto field numbers), without Python or a codegen
// step: the test encoders (lib/encoder/test-encoders) and the exact-search kernel
// (lib/retrieval/search-graph.ts). Enough of ModelProto for feed-forward graphs: nodes with int,
// ints and float attributes, float32 initializers, float, int32 and int64 tensors with named (symbolic)
// or fixed dimensions.
import { Writer } from 'protobufjs';

const ELEMENT_TYPE = { float: 1, int32: 6, int64: 7 } as const; // TensorProto.DataType
const ATTRIBUTE_TYPE = { float: 1, int: 2, ints: 7 } as const; // AttributeProto.AttributeType

export type Attribute = number | number[] | { float: number };

export interface Node {
  op: string;
  inputs: string[];
  /** The node is named after its first output. */
  outputs: string[];
  attributes?: Record<string, Attribute>;
}

export interface Initializer {
  name: string;
  dims: number[];
  values: Float32Array;
}

/** A graph input or output: string dimensions are symbolic (`batch`), numbers fixed. */
export interface TensorValue {
  name: string;
  type: keyof typeof ELEMENT_TYPE;
  dims: (string | number)[];
}

export interface ModelSpec {
  name: string;
  /** The model's and the graph's doc string, when given. */
  doc?: string;
  inputs: TensorValue[];
  outputs: TensorValue[];
  nodes: Node[];
  initializers?: Initializer[];
}

type Field = (w: Writer) => void;

const tag = (w: Writer, field: number, wireType: 0 | 2 | 5) => w.uint32((field << 3) | wireType);
const int = (field: number, v: number): Field => (w) => tag(w, field, 0).int64(v);
const float = (field: number, v: number): Field => (w) => tag(w, field, 5).float(v);
const str = (field: number, s: string): Field => (w) => tag(w, field, 2).string(s);
const bytes = (field: number, b: Uint8Array): Field => (w) => tag(w, field, 2).bytes(b);
const msg = (field: number, ...fields: Field[]): Field => (w) => {
  tag(w, field, 2).fork();
  for (const f of fields) f(w);
  w.ldelim();
};

function attribute(name: string, value: Attribute): Field {
  if (Array.isArray(value)) return msg(5, str(1, name), ...value.map((v) => int(8, v)), int(20, ATTRIBUTE_TYPE.ints));
  if (typeof value === 'number') return msg(5, str(1, name), int(3, value), int(20, ATTRIBUTE_TYPE.int));
  return msg(5, str(1, name), float(2, value.float), int(20, ATTRIBUTE_TYPE.float));
}

function node(n: Node): Field {
  const attributes = Object.entries(n.attributes ?? {}).map(([name, value]) => attribute(name, value));
  return msg(1, ...n.inputs.map((i) => str(1, i)), ...n.outputs.map((o) => str(2, o)), str(3, n.outputs[0]), str(4, n.op), ...attributes);
}

function initializer(t: Initializer): Field {
  const raw = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
  return msg(5, ...t.dims.map((d) => int(1, d)), int(2, ELEMENT_TYPE.float), str(8, t.name), bytes(9, raw));
}

function tensorValue(field: 11 | 12, v: TensorValue): Field {
  const dim = (d: string | number) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d));
  return msg(field, str(1, v.name), msg(2, msg(1, int(1, ELEMENT_TYPE[v.type]), msg(2, ...v.dims.map(dim)))));
}

/** A serialized ModelProto (IR version 8, default opset 13). The same spec always gives the same bytes. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const doc = spec.doc === undefined ? [] : [str(10, spec.doc)];
  const graph = msg(
    7,
    ...spec.nodes.map(node),
    str(2, spec.name),
    ...(spec.initializers ?? []).map(initializer),
    ...doc,
    ...spec.inputs.map((v) => tensorValue(11, v)),
    ...spec.outputs.map((v) => tensorValue(12, v)),
  );
  const w = Writer.create();
  for (const f of [int(1, 8), str(2, 'septflow'), ...(spec.doc === undefined ? [] : [str(6, spec.doc)]), graph, msg(8, str(1, ''), int(2, 13))]) f(w);
  return w.finish();
}
