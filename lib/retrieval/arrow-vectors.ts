// Vectors as Arrow data: a fixed-size list of float32 per row, the layout LanceDB stores and scans.
import { Field, FixedSizeList, Float32, makeData, makeVector, type RecordBatch, Table, Utf8, type Vector, vectorFromArray } from 'apache-arrow';

function vectorType(dim: number): FixedSizeList<Float32> {
  return new FixedSizeList(dim, new Field('item', new Float32(), true));
}

/** An Arrow table of `id`, `encoder_id`, `vector` plus any string columns: what a vector store row holds. */
export function vectorTable(opts: { ids: string[]; encoderId: string; vectors: Float32Array; dim: number; columns?: Record<string, string[]> }): Table {
  const { ids, vectors, dim } = opts;
  const child = makeData({ type: new Float32(), length: vectors.length, data: vectors });
  const vector = makeVector(makeData({ type: vectorType(dim), length: ids.length, nullCount: 0, child }));
  const strings = (values: string[]) => vectorFromArray(values, new Utf8());
  const extra = Object.fromEntries(Object.entries(opts.columns ?? {}).map(([name, values]) => [name, strings(values)]));
  return new Table({ id: strings(ids), encoder_id: strings(ids.map(() => opts.encoderId)), vector, ...extra });
}

/** The float32 values of a batch's vector column, row-major, without copying. */
export function vectorsOf(batch: RecordBatch, column = 'vector'): { vectors: Float32Array; dim: number } {
  const data = batch.getChild(column)?.data[0];
  if (!data || !(data.type instanceof FixedSizeList)) throw new TypeError(`column ${column} is not a fixed-size list of float32`);
  const dim = data.type.listSize;
  const values = data.children[0].values as Float32Array;
  return { vectors: values.subarray(data.offset * dim, (data.offset + data.length) * dim), dim };
}

/**
 * Row r of a string column as a reader: a single-chunk Utf8 column is decoded one value at a time by
 * Node's UTF-8 decoder, several times faster than `Vector.get` (which the search calls for every hit).
 */
export function stringsOf(column: Vector): (row: number) => string {
  const data = column.data[0];
  if (column.data.length !== 1 || !(data.type instanceof Utf8)) return (row) => String(column.get(row));
  const bytes = Buffer.from(data.values.buffer, data.values.byteOffset, data.values.byteLength);
  const offsets = data.valueOffsets as Int32Array;
  return (row) => bytes.toString('utf8', offsets[row], offsets[row + 1]);
}

/**
 * Rows [from, to) of a string column as a reader over a copy of just their values: holding it
 * holds no part of the batch (whose buffers carry its vectors too), as stringsOf's reader does.
 */
export function stringsCopied(column: Vector, from: number, to: number): (row: number) => string {
  const data = column.data[0];
  if (column.data.length !== 1 || !(data.type instanceof Utf8)) {
    const values = Array.from({ length: to - from }, (_, r) => String(column.get(from + r)));
    return (row) => values[row];
  }
  const offsets = (data.valueOffsets as Int32Array).slice(from, to + 1);
  const start = offsets[0];
  const bytes = Buffer.from((data.values as Uint8Array).subarray(start, offsets[to - from]));
  return (row) => bytes.toString('utf8', offsets[row] - start, offsets[row + 1] - start);
}
