/** Scales each row of `dim` floats to unit length, in place: cosine similarity becomes a dot product. */
export function normalizeRows(vectors: Float32Array, dim: number): Float32Array {
  for (let row = 0; row < vectors.length; row += dim) {
    let sum = 0;
    for (let j = row; j < row + dim; j++) sum += vectors[j] * vectors[j];
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let j = row; j < row + dim; j++) vectors[j] *= scale;
  }
  return vectors;
}
