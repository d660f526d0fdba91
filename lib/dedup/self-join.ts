import type { Table } from '@lancedb/lancedb';
import { annSearch } from '../retrieval/ann';
import { exactSearch } from '../retrieval/exact-search';
import { scanPool } from '../retrieval/pool-scan';
import type { Neighbour } from '../retrieval/running-topk';
import { openVectors, shardFilter } from '../retrieval/vector-store';
import { openStore } from '../vectors/connect';
import { chunkShards, type DedupPlan, partitionShards } from './plan';
import { type DuplicateEdge, dedupTables, writeEdges } from './tables';

/**
 * One self-join activity's work: every pool row of query chunk `chunk` searches its
 * `neighbours` + 1 nearest in pool partition `partition` (the same exact or index search as the
 * selection's), and the pairs at or above the threshold, self pairs aside, are written to the
 * pair's own edges table (overwritten whole: repeating it changes nothing). Memory: the chunk's
 * vectors and its neighbour lists. Returns the edges written.
 */
export async function joinChunk(plan: DedupPlan, chunk: number, partition: number, onProgress?: (done: number) => void | Promise<void>): Promise<number> {
  const db = await openStore(plan.store);
  const table = await openVectors(db, plan.encoderId);
  const { ids, vectors } = await chunkVectors(plan, table, chunk);
  const name = dedupTables(plan.encoderId, plan.settings).edges(chunk, partition);
  if (ids.length === 0) {
    await writeEdges(db, name, []);
    return 0;
  }
  const k = plan.settings.neighbours + 1;
  let lists: Neighbour[][];
  if (plan.path === 'exact') {
    const pool = scanPool(table, { filter: shardFilter((await partitionShards(plan, partition)).map((s) => s.id)), blockRows: plan.blockRows, dim: plan.dim });
    const top = await exactSearch(vectors, plan.dim, pool, { k, onBlock: onProgress });
    lists = ids.map((_, q) => top.neighbours(q));
  } else {
    const filter = plan.tableHasOtherRows ? shardFilter((await partitionShards(plan, partition)).map((s) => s.id)) : undefined;
    lists = await annSearch(table, vectors, plan.dim, { k, params: plan.ann, filter, onProgress });
  }
  const edges: DuplicateEdge[] = [];
  lists.forEach((list, q) => {
    for (const n of list) {
      const cosine = 1 - n.distance;
      if (cosine >= plan.settings.threshold && n.poolId !== ids[q]) edges.push({ a: ids[q], b: n.poolId, cosine });
    }
  });
  await writeEdges(db, name, edges);
  return edges.length;
}

/** The query chunk's ids and vectors, read in one scan of its shards. */
async function chunkVectors(plan: DedupPlan, table: Table, chunk: number): Promise<{ ids: string[]; vectors: Float32Array }> {
  const ids: string[] = [];
  const parts: Float32Array[] = [];
  for await (const block of scanPool(table, { filter: shardFilter((await chunkShards(plan, chunk)).map((s) => s.id)), blockRows: plan.blockRows, dim: plan.dim })) {
    for (let r = 0; r < block.rows; r++) ids.push(block.idOf(r));
    // Each block is a fresh array (lib/retrieval/pool-scan.ts): kept as it is.
    parts.push(block.vectors);
  }
  const vectors = new Float32Array(ids.length * plan.dim);
  let at = 0;
  for (const part of parts) {
    vectors.set(part, at);
    at += part.length;
  }
  return { ids, vectors };
}
