/** Scales each row of `dim` floats to unit length, in place: cosine similarity becomes a dot product. */
export function normalizeRows(vectors: Float32Array, dim: number): Float32Array {
  return normalizeRowsInto(vectors, vectors, dim);
}

/** Writes the rows of `from` scaled to unit length into `to` (which may be `from`): one pass where a copy is made anyway. */
export function normalizeRowsInto(to: Float32Array, from: Float32Array, dim: number): Float32Array {
  for (let row = 0; row < from.length; row += dim) {
    let sum = 0;
    for (let j = row; j < row + dim; j++) sum += from[j] * from[j];
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let j = row; j < row + dim; j++) to[j] = from[j] * scale;
  }
  return to;
}
