import type { PoolBlock } from '../../lib/retrieval/exact-search';

/** An in-memory pool streamed in blocks of `size` rows, like a store scan. */
export async function* inMemoryBlocks(vectors: Float32Array, ids: string[], dim: number, size: number): AsyncGenerator<PoolBlock> {
  for (let first = 0; first < ids.length; first += size) {
    const rows = Math.min(size, ids.length - first);
    yield { rows, vectors: vectors.subarray(first * dim, (first + rows) * dim), idOf: (row) => ids[first + row] };
  }
}
