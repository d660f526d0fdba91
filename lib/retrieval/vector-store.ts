// The thin layer between retrieval and the embedding stage's LanceDB layout (lib/vectors/tables.ts):
// one `vectors_<encoderId>` table per encoder with id, encoder_id, shard_id and vector columns.
import type { Connection, Table } from '@lancedb/lancedb';
import { FixedSizeList } from 'apache-arrow';
import { sqlIn, tableNames } from '../vectors/tables';
import { vectorsOf } from './arrow-vectors';
import { RetrievalInputError } from './errors';

export const vectorsTableName = (encoderId: string) => tableNames(encoderId).vectors;

export async function openVectors(db: Connection, encoderId: string): Promise<Table> {
  const name = vectorsTableName(encoderId);
  if (!(await db.tableNames()).includes(name)) throw new RetrievalInputError(`no vectors for encoder ${encoderId} (table ${name}): embed the pool first (sept embed)`);
  return db.openTable(name);
}

export async function vectorDim(table: Table): Promise<number> {
  const field = (await table.schema()).fields.find((f) => f.name === 'vector');
  if (!field || !(field.type instanceof FixedSizeList)) throw new RetrievalInputError('the vectors table has no fixed-size vector column');
  return field.type.listSize;
}

/** The rows of the pool (or one partition of it): those of its shards. */
export const shardFilter = (shardIds: string[]) => sqlIn('shard_id', shardIds);

/**
 * Vectors of the given ids in the given order, read in slices of `IN (…)` filters. Rows of another
 * encoder are an error, not a silent mix; ids without a row are returned as missing.
 */
export async function vectorsById(table: Table, encoderId: string, ids: string[], dim: number): Promise<{ vectors: Float32Array; missing: string[] }> {
  const position = new Map(ids.map((id, i) => [id, i]));
  const vectors = new Float32Array(ids.length * dim);
  const found = new Uint8Array(ids.length);
  const SLICE = 1000;
  for (let first = 0; first < ids.length; first += SLICE) {
    const query = table.query().select(['id', 'encoder_id', 'vector']).where(sqlIn('id', ids.slice(first, first + SLICE)));
    for await (const batch of query) {
      const rowIds = batch.getChild('id')!;
      const encoders = batch.getChild('encoder_id')!;
      const rows = vectorsOf(batch);
      if (rows.dim !== dim) throw new RetrievalInputError(`target vectors have dimension ${rows.dim}, pool vectors ${dim}: different encoders`);
      for (let r = 0; r < batch.numRows; r++) {
        const id = String(rowIds.get(r));
        if (String(encoders.get(r)) !== encoderId) {
          throw new RetrievalInputError(`encoder mismatch: target ${id} was embedded by encoder ${String(encoders.get(r))}, the pool by ${encoderId}`);
        }
        const i = position.get(id)!;
        vectors.set(rows.vectors.subarray(r * dim, (r + 1) * dim), i * dim);
        found[i] = 1;
      }
    }
  }
  return { vectors, missing: ids.filter((_, i) => !found[i]) };
}

/** Pool id -> shard id for the given ids, from one scan of the id and shard columns. */
export async function shardsOf(table: Table, ids: Set<string>, filter?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let query = table.query().select(['id', 'shard_id']);
  if (filter) query = query.where(filter);
  for await (const batch of query) {
    const rowIds = batch.getChild('id')!;
    const shards = batch.getChild('shard_id')!;
    for (let r = 0; r < batch.numRows; r++) {
      const id = String(rowIds.get(r));
      if (ids.has(id)) out.set(id, String(shards.get(r)));
    }
  }
  return out;
}
