import type { Connection, Table as LanceTable } from '@lancedb/lancedb';
import { Float64, Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { compareNeighbours, type Neighbour } from '../retrieval/running-topk';
import type { SelectedSample, TargetNeighbours } from './types';

/**
 * Tables of one run's selection, in the run's LanceDB store:
 * - `selection_<run>_hits_<chunk>_<partition>`: one search activity's hits, written atomically
 *   under a deterministic name (a retried or duplicated attempt overwrites it with the same rows);
 * - `selection_<run>_hits`: every target's merged top-k (target_id, pool_id, rank, distance, split);
 * - `selection_<run>`: the selected samples and why each was selected.
 */
export const selectionTables = (run: string) => ({
  chunkHits: (chunk: number, partition: number) => `selection_${run}_hits_${chunk}_${partition}`,
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

const strings = (values: string[]) => vectorFromArray(values, new Utf8());

function hitsArrow(targets: TargetNeighbours[], splitOf?: (targetId: string) => string): Table {
  const rows = targets.flatMap((t) => t.neighbours.map((n, r) => ({ targetId: t.targetId, poolId: n.poolId, rank: r + 1, distance: n.distance })));
  return new Table({
    target_id: strings(rows.map((r) => r.targetId)),
    pool_id: strings(rows.map((r) => r.poolId)),
    rank: vectorFromArray(rows.map((r) => r.rank), new Int32()),
    distance: vectorFromArray(rows.map((r) => r.distance), new Float64()),
    ...(splitOf ? { split: strings(rows.map((r) => splitOf(r.targetId))) } : {}),
  });
}

export async function writeHits(db: Connection, name: string, targets: TargetNeighbours[], splitOf?: (targetId: string) => string): Promise<void> {
  await db.createTable(name, hitsArrow(targets, splitOf), { mode: 'overwrite' });
}

export async function readHits(table: LanceTable, filter?: string): Promise<HitRow[]> {
  const out: HitRow[] = [];
  let query = table.query().select(['target_id', 'pool_id', 'rank', 'distance']);
  if (filter) query = query.where(filter);
  for await (const batch of query) {
    const [t, p, r, d] = ['target_id', 'pool_id', 'rank', 'distance'].map((c) => batch.getChild(c)!);
    for (let i = 0; i < batch.numRows; i++) out.push({ targetId: String(t.get(i)), poolId: String(p.get(i)), rank: Number(r.get(i)), distance: Number(d.get(i)) });
  }
  return out;
}

/** Each target's k nearest over all partitions' hits: partitions see disjoint pool rows, so this is the exact union top-k. */
export function mergeHits(rows: HitRow[], k: number): Map<string, Neighbour[]> {
  const byTarget = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const seen = byTarget.get(row.targetId) ?? new Map<string, number>();
    byTarget.set(row.targetId, seen);
    // A pool id seen twice (a duplicated attempt) counts once, at its smallest distance.
    seen.set(row.poolId, Math.min(row.distance, seen.get(row.poolId) ?? Infinity));
  }
  return new Map(
    [...byTarget].map(([targetId, seen]) => [
      targetId,
      [...seen]
        .map(([poolId, distance]) => ({ poolId, distance }))
        .sort(compareNeighbours)
        .slice(0, k),
    ]),
  );
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
