import type { Connection, Table } from '@lancedb/lancedb';
import { stringsOf } from '../retrieval/arrow-vectors';

/**
 * The candidates that deduplication removed, beyond those already in `excluded` (the leakage
 * guard's): with `hits`, the pool ids of the merged hits' train rows that are a removed member of a
 * group (one scan of the hits' pool ids and one of the groups table's removed rows: memory grows
 * with the distinct candidates, not with the pool); without, every removed image, for a policy whose
 * candidates are the whole pool (memory grows with the removed images).
 */
export async function removedCandidates(db: Connection, groupsTable: string, hits: Table | undefined, excluded: ReadonlySet<string>): Promise<Set<string>> {
  let candidates: Set<string> | undefined;
  if (hits) {
    candidates = new Set<string>();
    for await (const batch of hits.query().where(`split = 'train'`).select(['pool_id'])) {
      const id = stringsOf(batch.getChild('pool_id')!);
      for (let i = 0; i < batch.numRows; i++) candidates.add(id(i));
    }
  }
  const removed = new Set<string>();
  for await (const batch of (await db.openTable(groupsTable)).query().where('kept = false').select(['pool_id'])) {
    const id = stringsOf(batch.getChild('pool_id')!);
    for (let i = 0; i < batch.numRows; i++) {
      const poolId = id(i);
      if ((!candidates || candidates.has(poolId)) && !excluded.has(poolId)) removed.add(poolId);
    }
  }
  return removed;
}
