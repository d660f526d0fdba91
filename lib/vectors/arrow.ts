import { type Data, type Field, FixedSizeList, Float32, makeData, RecordBatch, type Schema, Struct, Table, vectorFromArray } from 'apache-arrow';

/** Column values by field name: strings, numbers, or (for vector columns) rows x dims floats packed in one array. */
export type Columns = Record<string, string[] | number[] | Float32Array>;

function columnData(field: Field, values: string[] | number[] | Float32Array, length: number): Data {
  if (field.type instanceof FixedSizeList) {
    const floats = values as Float32Array;
    const child = makeData({ type: new Float32(), length: floats.length, nullCount: 0, data: floats });
    return makeData({ type: field.type, length, nullCount: 0, child });
  }
  return vectorFromArray(values as unknown[], field.type).data[0];
}

/** An Arrow table with exactly `schema` (non-nullable fields stay non-nullable, so LanceDB accepts appends). */
export function arrowTable(schema: Schema, length: number, columns: Columns): Table {
  const children = schema.fields.map((field) => columnData(field, columns[field.name], length));
  const data = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children });
  return new Table(schema, [new RecordBatch(schema, data)]);
}

// A query that matches no row comes back as a table without columns.

export function stringColumn(table: Table, name: string): string[] {
  const column = table.getChild(name);
  return column ? Array.from(column, (v) => String(v)) : [];
}

export function numberColumn(table: Table, name: string): number[] {
  const column = table.getChild(name);
  return column ? Array.from(column, (v) => Number(v)) : [];
}

/** A FixedSizeList<float32> column as rows x dims floats in one array. */
export function vectorColumn(table: Table, name: string, dims: number): Float32Array {
  const out = new Float32Array(table.numRows * dims);
  let row = 0;
  for (const chunk of table.getChild(name)?.data ?? []) {
    const child = chunk.children[0];
    const start = (child.offset + chunk.offset * dims) | 0;
    out.set((child.values as Float32Array).subarray(start, start + chunk.length * dims), row * dims);
    row += chunk.length;
  }
  return out;
}

