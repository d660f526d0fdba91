// The LanceDB tables of pool deduplication, in the run's store beside the encoder's vectors:
// - `dedup_<key>`: the near-duplicate groups, one row per grouped pool image (pool_id,
//   representative, group_size, kept); an image without a duplicate has no row and is kept;
// - `dedup_<key>_record`: its completion record, written last: which pool shards (ids and versions)
//   it covers; another run of the same encoder and settings over the same shards reuses the groups;
// - `dedup_<key>_edges_<chunk>_<partition>`: one self-join activity's edges, until the groups are written.
// `<key>` hashes the encoder id and the settings that change the groups (threshold, method, neighbours).
import { createHash } from 'node:crypto';
import type { Connection, Table } from '@lancedb/lancedb';
import { Bool, Float64, Int32, Table as ArrowTable, Utf8, vectorFromArray } from 'apache-arrow';
import type { RunConfig } from '../config/schema';
import { stringsOf } from '../retrieval/arrow-vectors';
import { RetrievalInputError } from '../retrieval/errors';
import { sqlIn } from '../vectors/tables';
import { compareIds, type DuplicateGroup } from './components';

export type DedupSettings = Pick<RunConfig['dedup'], 'threshold' | 'method' | 'neighbours'>;

export function dedupTables(encoderId: string, settings: DedupSettings) {
  const key = createHash('sha256')
    .update(JSON.stringify([encoderId, settings.threshold, settings.method, settings.neighbours]))
    .digest('hex')
    .slice(0, 16);
  const groups = `dedup_${key}`;
  return { groups, record: `${groups}_record`, edges: (chunk: number, partition: number) => `${groups}_edges_${chunk}_${partition}` };
}

/** A near-duplicate pair found by the self-join: the cosine of a and b is at least the threshold. */
export interface DuplicateEdge {
  a: string;
  b: string;
  cosine: number;
}

/** One self-join activity's edges, overwritten whole: a retried or duplicated attempt leaves the same table. */
export async function writeEdges(db: Connection, name: string, edges: DuplicateEdge[]): Promise<void> {
  const table = new ArrowTable({
    a: vectorFromArray(edges.map((e) => e.a), new Utf8()),
    b: vectorFromArray(edges.map((e) => e.b), new Utf8()),
    cosine: vectorFromArray(edges.map((e) => e.cosine), new Float64()),
  });
  await db.createTable(name, table, { mode: 'overwrite' });
}

/** An edges table's pairs in the batches the store reads them in. */
export async function* edgeBatches(table: Table): AsyncGenerator<[string, string][]> {
  for await (const batch of table.query().select(['a', 'b'])) {
    const [a, b] = ['a', 'b'].map((c) => stringsOf(batch.getChild(c)!));
    yield Array.from({ length: batch.numRows }, (_, i) => [a(i), b(i)]);
  }
}

/** Rows per write of the groups table. */
const WRITE_ROWS = 100_000;

/** The groups table, replaced whole (a retry writes the same rows), written a slice of rows at a time. */
export async function writeGroups(db: Connection, name: string, groups: DuplicateGroup[]): Promise<void> {
  const rows = groups.flatMap((g) => g.members.map((id) => ({ id, g })));
  const slice = (from: number) => {
    const part = rows.slice(from, from + WRITE_ROWS);
    return new ArrowTable({
      pool_id: vectorFromArray(part.map((r) => r.id), new Utf8()),
      representative: vectorFromArray(part.map((r) => r.g.representative), new Utf8()),
      group_size: vectorFromArray(part.map((r) => r.g.members.length), new Int32()),
      kept: vectorFromArray(part.map((r) => r.id === r.g.representative), new Bool()),
    });
  };
  const table = await db.createTable(name, slice(0), { mode: 'overwrite' });
  for (let from = WRITE_ROWS; from < rows.length; from += WRITE_ROWS) await table.add(slice(from));
}

/** Reads groups back from the groups table, those of the given representatives, or all (memory: the rows read). */
export async function readGroups(table: Table, representatives?: string[]): Promise<DuplicateGroup[]> {
  const byRep = new Map<string, string[]>();
  let query = table.query().select(['pool_id', 'representative']);
  if (representatives) query = query.where(sqlIn('representative', representatives));
  for await (const batch of query) {
    const [id, rep] = ['pool_id', 'representative'].map((c) => stringsOf(batch.getChild(c)!));
    for (let i = 0; i < batch.numRows; i++) (byRep.get(rep(i)) ?? byRep.set(rep(i), []).get(rep(i))!).push(id(i));
  }
  return [...byRep].map(([representative, members]) => ({ representative, members: members.sort(compareIds) })).sort((a, b) => compareIds(a.representative, b.representative));
}

/** The completion record: the pool shards' fingerprint (lib/sources/shard-ref.ts contentFingerprint) the groups were computed over. */
export async function writeDedupRecord(db: Connection, name: string, poolFingerprint: string): Promise<void> {
  const table = new ArrowTable({
    pool_fingerprint: vectorFromArray([poolFingerprint], new Utf8()),
    completed_at: vectorFromArray([new Date().toISOString()], new Utf8()),
  });
  await db.createTable(name, table, { mode: 'overwrite' });
}

/** Whether the groups are complete for exactly this pool (same shards, same versions). */
export async function dedupComplete(db: Connection, tables: ReturnType<typeof dedupTables>, poolFingerprint: string): Promise<boolean> {
  const names = await db.tableNames();
  if (!names.includes(tables.record) || !names.includes(tables.groups)) return false;
  const rows = await (await db.openTable(tables.record)).query().select(['pool_fingerprint']).toArray();
  return rows.length === 1 && String(rows[0].pool_fingerprint) === poolFingerprint;
}

/**
 * The groups table a selection excludes removed images by, when `dedup.enabled`: it must be complete
 * for exactly this pool, or the selection would keep copies the run asked to remove.
 */
export async function completedGroups(db: Connection, encoderId: string, settings: DedupSettings, poolFingerprint: string): Promise<string> {
  const tables = dedupTables(encoderId, settings);
  if (!(await dedupComplete(db, tables, poolFingerprint))) {
    throw new RetrievalInputError(
      `dedup.enabled, but the pool is not deduplicated for encoder ${encoderId} at dedup.threshold ${settings.threshold} (method ${settings.method}, neighbours ${settings.neighbours}) over its current shards: run the dedupPool workflow first (septPipeline runs it before the selection)`,
    );
  }
  return tables.groups;
}
