import { connect, type Connection, type Table } from '@lancedb/lancedb';
import { vectorTable } from '../../lib/retrieval/arrow-vectors';
import { vectorsTableName } from '../../lib/retrieval/vector-store';

export const SHARD_ROWS = 1000;

/** Ids `<source>/<n>` in shards `<source>/shard-<n / 1000>`, the embedding stage's vector table layout. */
export function poolRows(source: string, count: number, first = 0): { ids: string[]; shards: string[] } {
  const ids = Array.from({ length: count }, (_, i) => `${source}/${String(first + i).padStart(7, '0')}`);
  const shards = ids.map((_, i) => `${source}/shard-${String(Math.floor((first + i) / SHARD_ROWS)).padStart(4, '0')}`);
  return { ids, shards };
}

/** Writes (or appends) vectors to `vectors_<encoderId>` in a LanceDB folder. */
export async function writeVectors(dir: string, encoderId: string, rows: { ids: string[]; shards: string[]; vectors: Float32Array; dim: number; rowEncoder?: string }): Promise<{ db: Connection; table: Table }> {
  const db = await connect(dir);
  const data = vectorTable({ ids: rows.ids, encoderId: rows.rowEncoder ?? encoderId, vectors: rows.vectors, dim: rows.dim, columns: { shard_id: rows.shards } });
  const name = vectorsTableName(encoderId);
  const exists = (await db.tableNames()).includes(name);
  const table = exists ? await db.openTable(name) : await db.createTable(name, data);
  if (exists) await table.add(data);
  return { db, table };
}
