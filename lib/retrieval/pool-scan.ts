import type { Table } from '@lancedb/lancedb';
import { stringsCopied, vectorsOf } from './arrow-vectors';
import { RetrievalInputError } from './errors';
import type { PoolBlock } from './exact-search';

export interface PoolScanOptions {
  /** LanceDB filter selecting the pool's rows (a partition of them), e.g. `shard_id IN (…)`. */
  filter?: string;
  /** Rows per block handed to the matrix product. */
  blockRows: number;
  dim: number;
}

/** The first block is this share of `blockRows`, and each next one twice the last up to it. */
const FIRST_BLOCK_SHARE = 8;

/**
 * Streams a vector table's rows as blocks of `blockRows`: LanceDB's record batches (a few thousand
 * rows each) are copied into one contiguous block, and the ids (copied too, so that a block's ids
 * outlive it without its batches) decoded only for rows that become hits. The first blocks are
 * smaller: the search threads wait for the first block's read, and read ahead of the rest.
 */
export async function* scanPool(table: Table, opts: PoolScanOptions): AsyncGenerator<PoolBlock> {
  let query = table.query().select(['id', 'vector']);
  if (opts.filter) query = query.where(opts.filter);
  const { dim } = opts;
  let blockRows = Math.max(1, Math.ceil(opts.blockRows / FIRST_BLOCK_SHARE));
  let vectors = new Float32Array(blockRows * dim);
  let rows = 0;
  let idColumns: { first: number; idOf: (row: number) => string }[] = [];
  const block = (): PoolBlock => {
    const columns = idColumns;
    return {
      rows,
      vectors: vectors.subarray(0, rows * dim),
      idOf(row) {
        let c = columns.length - 1;
        while (columns[c].first > row) c--;
        return columns[c].idOf(row - columns[c].first);
      },
    };
  };
  for await (const batch of query) {
    const batchVectors = vectorsOf(batch);
    if (batchVectors.dim !== dim) throw new RetrievalInputError(`pool vectors have dimension ${batchVectors.dim}, expected ${dim}`);
    const idColumn = batch.getChild('id')!;
    let offset = 0;
    while (offset < batch.numRows) {
      const take = Math.min(blockRows - rows, batch.numRows - offset);
      vectors.set(batchVectors.vectors.subarray(offset * dim, (offset + take) * dim), rows * dim);
      idColumns.push({ first: rows, idOf: stringsCopied(idColumn, offset, offset + take) });
      rows += take;
      offset += take;
      if (rows === blockRows) {
        yield block();
        blockRows = Math.min(opts.blockRows, 2 * blockRows);
        vectors = new Float32Array(blockRows * dim);
        rows = 0;
        idColumns = [];
      }
    }
  }
  if (rows > 0) yield block();
}
