// The protobuf wire format, as much of it as writing an ONNX model needs: varints, 32-bit floats
// and length-delimited fields. Enough to generate test encoders without Python or a codegen step.

/** One encoded field or a run of them; messages are concatenations of fields. */
export type Encoded = Buffer;

function varint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint needs a non-negative safe integer, got ${value}`);
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

const tag = (field: number, wireType: 0 | 2 | 5) => varint(field * 8 + wireType);

export function intField(field: number, value: number): Encoded {
  return Buffer.concat([tag(field, 0), varint(value)]);
}

export function floatField(field: number, value: number): Encoded {
  const body = Buffer.alloc(4);
  body.writeFloatLE(value);
  return Buffer.concat([tag(field, 5), body]);
}

export function bytesField(field: number, value: Buffer | string): Encoded {
  const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([tag(field, 2), varint(body.length), body]);
}

/** An embedded message: its fields, length-delimited. */
export function messageField(field: number, ...fields: Encoded[]): Encoded {
  return bytesField(field, Buffer.concat(fields));
}
