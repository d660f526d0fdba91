import { type Connection, Index, type Table as LanceTable } from '@lancedb/lancedb';
import { Float64, Int32, makeData, makeVector, type RecordBatch, Table, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { stringsOf } from '../retrieval/arrow-vectors';
import { compareNeighbours, type Neighbour } from '../retrieval/running-topk';
import type { TargetInstance } from './target-set';
import type { CandidateHits, Candidates, SelectedSample, TargetNeighbours } from './types';

/**
 * Tables of one run's selection, in the run's LanceDB store:
 * - `selection_<run>_hits_<chunk>_<partition>`: one search activity's hits, written atomically
 *   under a deterministic name (a retried or duplicated attempt overwrites it with the same rows);
 * - `selection_<run>_merged_<chunk>`: one merge activity's output, its target chunk's merged top-k
 *   (as `selection_<run>_hits`), overwritten whole by a retry;
 * - `selection_<run>_hits`: every target's merged top-k (target_id, pool_id, rank, distance, split);
 * - `selection_<run>`: the selected samples and why each was selected.
 */
export const selectionTables = (run: string) => ({
  chunkHits: (chunk: number, partition: number) => `selection_${run}_hits_${chunk}_${partition}`,
  mergedChunk: (chunk: number) => `selection_${run}_merged_${chunk}`,
  hits: `selection_${run}_hits`,
  selection: `selection_${run}`,
});

export interface HitRow {
  targetId: string;
  poolId: string;
  /** 1-based rank within the target's list. */
  rank: number;
  distance: number;
}

/** The merged hits' columns, in the order they are written. */
const HIT_COLUMNS = ['target_id', 'pool_id', 'rank', 'distance', 'split'];

/** Values per UTF-8 encode: their joined text stays far below V8's longest string. */
const ENCODE_VALUES = 1 << 20;

/** A string column encoded a million values at a time: `vectorFromArray` encodes value by value, the merge's slowest step. */
function strings(values: string[]): Vector<Utf8> {
  const valueOffsets = new Int32Array(values.length + 1);
  for (let i = 0; i < values.length; i++) valueOffsets[i + 1] = valueOffsets[i] + Buffer.byteLength(values[i]);
  const parts: Buffer[] = [];
  for (let at = 0; at < values.length; at += ENCODE_VALUES) parts.push(Buffer.from(values.slice(at, at + ENCODE_VALUES).join('')));
  return makeVector(makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets, data: Buffer.concat(parts) }));
}

function hitsArrow(rows: HitRow[], splitOf?: (targetId: string) => string): Table {
  return new Table({
    target_id: strings(rows.map((r) => r.targetId)),
    pool_id: strings(rows.map((r) => r.poolId)),
    rank: vectorFromArray(rows.map((r) => r.rank), new Int32()),
    distance: vectorFromArray(rows.map((r) => r.distance), new Float64()),
    ...(splitOf ? { split: strings(rows.map((r) => splitOf(r.targetId))) } : {}),
  });
}

/** One search activity's hits, target by target. */
export async function writeHits(db: Connection, name: string, targets: TargetNeighbours[]): Promise<void> {
  const rows = targets.flatMap((t) => t.neighbours.map((n, r) => ({ targetId: t.targetId, poolId: n.poolId, rank: r + 1, distance: n.distance })));
  await db.createTable(name, hitsArrow(rows), { mode: 'overwrite' });
}

/**
 * One target chunk's merged top-k as its own table, rank by rank: the rows of one rank lie together,
 * so the policy's read of a rank touches a k-th of the chunk's rows, not all of them. Overwritten
 * whole, so a retried merge leaves the same table. Returns the rows written.
 */
export async function writeMergedChunk(db: Connection, name: string, chunk: TargetNeighbours[], splitOf: (targetId: string) => string): Promise<number> {
  const rows: HitRow[] = [];
  const depth = chunk.reduce((most, t) => Math.max(most, t.neighbours.length), 0);
  for (let r = 0; r < depth; r++) {
    for (const t of chunk) if (r < t.neighbours.length) rows.push({ targetId: t.targetId, poolId: t.neighbours[r].poolId, rank: r + 1, distance: t.neighbours[r].distance });
  }
  await db.createTable(name, hitsArrow(rows, splitOf), { mode: 'overwrite' });
  return rows.length;
}

/**
 * The merged hits table, gathered from the chunks' merged tables in chunk order, a chunk's columns
 * at a time (no row becomes an object). It is replaced first, so a retry starts from nothing instead
 * of appending twice. Returns the rows written.
 */
export async function gatherMergedChunks(db: Connection, name: string, chunks: string[]): Promise<number> {
  const table = await db.createTable(name, hitsArrow([], () => ''), { mode: 'overwrite' });
  let rows = 0;
  for (const chunk of chunks) {
    const batches: RecordBatch[] = [];
    for await (const batch of (await db.openTable(chunk)).query().select(HIT_COLUMNS)) batches.push(batch);
    const columns = new Table(batches);
    if (columns.numRows > 0) await table.add(columns);
    rows += columns.numRows;
  }
  return rows;
}

/**
 * The merged hits table indexed by rank (reading one rank's hits skips the others), held at its
 * current version. Another attempt of the selection may still be gathering into it (a zombie, cut
 * off from the server): only a version with exactly the `rows` this attempt wrote is read, and a later
 * write cannot change it.
 */
export async function indexMergedHits(db: Connection, name: string, rows: number): Promise<LanceTable> {
  const table = await db.openTable(name);
  await table.createIndex('rank', { config: Index.bitmap(), replace: true });
  await table.checkout(await table.version());
  const held = await table.countRows();
  if (held !== rows) throw new Error(`the merged hits table ${name} holds ${held} rows, not the ${rows} written: another attempt is writing it; retry`);
  return table;
}

/** A table's hits in the batches the store reads them in. */
export async function* hitBatches(table: LanceTable, filter?: string): AsyncGenerator<HitRow[]> {
  let query = table.query().select(['target_id', 'pool_id', 'rank', 'distance']);
  if (filter) query = query.where(filter);
  for await (const batch of query) {
    const [targetId, poolId] = ['target_id', 'pool_id'].map((c) => stringsOf(batch.getChild(c)!));
    const [r, d] = ['rank', 'distance'].map((c) => batch.getChild(c)!);
    yield Array.from({ length: batch.numRows }, (_, i) => ({ targetId: targetId(i), poolId: poolId(i), rank: Number(r.get(i)), distance: Number(d.get(i)) }));
  }
}

export async function readHits(table: LanceTable, filter?: string): Promise<HitRow[]> {
  const out: HitRow[] = [];
  for await (const rows of hitBatches(table, filter)) for (const row of rows) out.push(row);
  return out;
}

/**
 * Folds hits into each target's running top-k (nearest first, `compareNeighbours`). Partitions see
 * disjoint pool rows, so folding every partition's hits, in any order and batching, gives the exact
 * union top-k: a pool id cut from a running list is beaten by k others, which stay ahead of it.
 */
export function mergeHits(topk: Map<string, Neighbour[]>, rows: HitRow[], k: number): void {
  const fresh = new Map<string, Neighbour[]>();
  for (const row of rows) (fresh.get(row.targetId) ?? fresh.set(row.targetId, []).get(row.targetId)!).push({ poolId: row.poolId, distance: row.distance });
  for (const [targetId, hits] of fresh) {
    const list: Neighbour[] = [];
    const seen = new Set<string>();
    for (const n of (topk.get(targetId) ?? []).concat(hits).sort(compareNeighbours)) {
      // A pool id seen twice (a duplicated attempt) counts once, at its smallest distance: the first in this order.
      if (seen.has(n.poolId)) continue;
      seen.add(n.poolId);
      list.push(n);
      if (list.length === k) break;
    }
    topk.set(targetId, list);
  }
}

/**
 * The merged hits table's train hits as the policy reads them (lib/selection/policy.ts): one rank
 * at a time, or all of them in batches. A hit names its target by its index in `train`.
 */
export function mergedCandidates(table: LanceTable, train: TargetInstance[]): Candidates {
  const ids = train.map((t) => t.id);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const columns = ['target_id', 'pool_id', 'rank', 'distance'];
  const candidateHits = (batch: RecordBatch): CandidateHits => {
    const [targetId, poolId] = ['target_id', 'pool_id'].map((c) => stringsOf(batch.getChild(c)!));
    return {
      target: Int32Array.from({ length: batch.numRows }, (_, i) => indexOf.get(targetId(i))!),
      poolId: Array.from({ length: batch.numRows }, (_, i) => poolId(i)),
      rank: new Int32Array(batch.getChild('rank')!.toArray() as Int32Array),
      distance: new Float64Array(batch.getChild('distance')!.toArray() as Float64Array),
    };
  };
  async function* read(filter: string): AsyncGenerator<CandidateHits> {
    for await (const batch of table.query().where(filter).select(columns)) yield candidateHits(batch);
  }
  return {
    targets: { ids, labels: train.map((t) => t.label) },
    round: async (rank) => {
      const parts: CandidateHits[] = [];
      for await (const part of read(`rank = ${rank} AND split = 'train'`)) parts.push(part);
      return concatHits(parts);
    },
    hits: () => read(`split = 'train'`),
  };
}

/** One rank's hits as one set of columns, from the batches the store read them in. */
function concatHits(parts: CandidateHits[]): CandidateHits {
  const rows = parts.reduce((n, h) => n + h.poolId.length, 0);
  const out: CandidateHits = { target: new Int32Array(rows), poolId: [], rank: new Int32Array(rows), distance: new Float64Array(rows) };
  for (const h of parts) {
    const at = out.poolId.length;
    out.target.set(h.target, at);
    out.rank.set(h.rank, at);
    out.distance.set(h.distance, at);
    for (const id of h.poolId) out.poolId.push(id);
  }
  return out;
}

export async function writeSelection(db: Connection, name: string, samples: (SelectedSample & { shardId: string })[]): Promise<void> {
  const col = <T>(f: (s: SelectedSample & { shardId: string }) => T) => samples.map(f);
  const table = new Table({
    pool_id: strings(col((s) => s.poolId)),
    shard_id: strings(col((s) => s.shardId)),
    hit_count: vectorFromArray(col((s) => s.hitCount), new Int32()),
    best_rank: vectorFromArray(col((s) => s.bestRank), new Int32()),
    closest_target: strings(col((s) => s.closestTarget)),
    closest_label: strings(col((s) => s.closestLabel ?? '')),
    distance: vectorFromArray(col((s) => s.distance), new Float64()),
    order: vectorFromArray(col((s) => s.order), new Int32()),
  });
  await db.createTable(name, table, { mode: 'overwrite' });
}
