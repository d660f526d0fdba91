// ONNX messages (onnx.proto field numbers) built from the wire-format helpers: enough for
// feed-forward CNN encoders with float32 initializers and a dynamic batch dimension.
import { bytesField, type Encoded, floatField, intField, messageField } from './protobuf';

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

export type Attribute = number | number[] | { float: number };

function attribute(name: string, value: Attribute): Encoded {
  if (Array.isArray(value)) return messageField(5, bytesField(1, name), ...value.map((v) => intField(8, v)), intField(20, ATTR_INTS));
  if (typeof value === 'number') return messageField(5, bytesField(1, name), intField(3, value), intField(20, ATTR_INT));
  return messageField(5, bytesField(1, name), floatField(2, value.float), intField(20, ATTR_FLOAT));
}

export interface Node {
  op: string;
  inputs: string[];
  output: string;
  attributes?: Record<string, Attribute>;
}

export interface Initializer {
  name: string;
  dims: number[];
  values: Float32Array;
}

function node(n: Node): Encoded {
  const attributes = Object.entries(n.attributes ?? {}).map(([name, value]) => attribute(name, value));
  return messageField(1, ...n.inputs.map((i) => bytesField(1, i)), bytesField(2, n.output), bytesField(3, n.output), bytesField(4, n.op), ...attributes);
}

function initializer(t: Initializer): Encoded {
  const raw = Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength);
  return messageField(5, ...t.dims.map((d) => intField(1, d)), intField(2, FLOAT), bytesField(8, t.name), bytesField(9, raw));
}

/** A float tensor value: `batch` (a symbolic dimension) then fixed dimensions. */
function valueInfo(field: 11 | 12, name: string, dims: number[]): Encoded {
  const dim = (d: number | string) => messageField(1, typeof d === 'number' ? intField(1, d) : bytesField(2, d));
  const shape = messageField(2, dim('batch'), ...dims.map(dim));
  return messageField(field, bytesField(1, name), messageField(2, messageField(1, intField(1, FLOAT), shape)));
}

export interface GraphSpec {
  name: string;
  doc: string;
  input: { name: string; dims: number[] };
  output: { name: string; dims: number[] };
  nodes: Node[];
  initializers: Initializer[];
}

/** A serialized ModelProto (IR version 8, default opset 13). */
export function encodeModel(g: GraphSpec): Buffer {
  const graph = messageField(
    7,
    ...g.nodes.map(node),
    bytesField(2, g.name),
    ...g.initializers.map(initializer),
    bytesField(10, g.doc),
    valueInfo(11, g.input.name, g.input.dims),
    valueInfo(12, g.output.name, g.output.dims),
  );
  return Buffer.concat([intField(1, 8), bytesField(2, 'septflow'), bytesField(6, g.doc), graph, messageField(8, bytesField(1, ''), intField(2, 13))]);
}
