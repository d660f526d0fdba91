import type { RunConfig } from '../config/schema';
import { annSearch } from '../retrieval/ann';
import { RetrievalInputError } from '../retrieval/errors';
import { exactSearch } from '../retrieval/exact-search';
import { scanPool } from '../retrieval/pool-scan';
import type { Neighbour } from '../retrieval/running-topk';
import { openVectors, shardFilter, vectorsById } from '../retrieval/vector-store';
import { openStore } from '../vectors/connect';
import { partitionPoolShards, readTargets, searchedTargets, type SelectionPlan } from './plan';
import { selectionTables, writeHits } from './tables';

export interface ChunkResult {
  chunk: number;
  partition: number;
  targets: number;
  hits: number;
}

/**
 * One search activity's work: the top-k of target chunk `chunk` within pool partition `partition`,
 * written to the chunk's own hits table (overwritten whole, so repeating it changes nothing).
 */
export async function searchTargetChunk(
  plan: SelectionPlan,
  retrieval: RunConfig['retrieval'],
  chunk: number,
  partition: number,
  onProgress?: (done: number) => void | Promise<void>,
): Promise<ChunkResult> {
  const targets = searchedTargets(await readTargets(plan.workDir), retrieval).slice(chunk * retrieval.targetChunk, (chunk + 1) * retrieval.targetChunk);
  const db = await openStore(plan.store);
  const table = await openVectors(db, plan.encoderId);
  const { vectors, missing } = await vectorsById(table, plan.encoderId, targets.map((t) => t.id), plan.dim);
  if (missing.length > 0) throw new RetrievalInputError(`${missing.length} target images have no vector for encoder ${plan.encoderId} (first: ${missing[0]}): embed the target sets`);

  let lists: Neighbour[][];
  if (plan.path === 'exact') {
    const shards = await partitionPoolShards(plan, partition);
    const pool = scanPool(table, { filter: shardFilter(shards.map((s) => s.id)), blockRows: retrieval.blockRows, dim: plan.dim });
    const top = await exactSearch(vectors, plan.dim, pool, { k: retrieval.k, onBlock: onProgress });
    lists = targets.map((_, t) => top.neighbours(t));
  } else {
    // The index path searches the whole pool as its one partition.
    const filter = plan.tableHasOtherRows ? shardFilter((await partitionPoolShards(plan, partition)).map((s) => s.id)) : undefined;
    lists = await annSearch(table, vectors, plan.dim, { k: retrieval.k, params: plan.ann, filter, onProgress });
  }
  const name = selectionTables(plan.run).chunkHits(chunk, partition);
  await writeHits(db, name, targets.map((t, i) => ({ targetId: t.id, neighbours: lists[i] })));
  return { chunk, partition, targets: targets.length, hits: lists.reduce((n, l) => n + l.length, 0) };
}
