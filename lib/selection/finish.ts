import type { Connection, Table as LanceTable } from '@lancedb/lancedb';
import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import type { Neighbour } from '../retrieval/running-topk';
import { selectionFiles } from '../run-layout';
import { listShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';
import { writeLocation } from '../storage/location';
import { openVectors, shardFilter, shardsOf } from '../retrieval/vector-store';
import { openStore } from '../vectors/connect';
import { type LeakageReport, leakageExclusions } from './leakage';
import { pixelDuplicates } from './pixel-duplicates';
import { readPoolShards, readTargets, type SelectionPlan } from './plan';
import { selectByPolicy } from './policy';
import { type SelectionStats, selectionStats } from './stats';
import type { TargetInstance } from './target-set';
import { hitBatches, indexMergedHits, mergedCandidates, mergeHits, selectionTables, writeMergedHits, writeSelection } from './tables';

/**
 * The leakage guard: pool images whose embedding is within the cosine threshold of a target test
 * image are candidates; with `pixelCorrelation` set, only candidates whose pixels match are excluded.
 */
async function leakedPoolImages(
  report: LeakageReport,
  guard: RunConfig['retrieval']['leakageGuard'],
  io: { targetTest: SourceSpec; poolShards: ShardRef[]; shardsOfIds: (ids: Set<string>) => Promise<Map<string, string>> },
): Promise<{ leaked: Set<string>; saturated: number }> {
  if (!guard.enabled) return { leaked: new Set(), saturated: 0 };
  if (guard.pixelCorrelation === null || report.pairs.length === 0) return { leaked: report.excluded, saturated: report.saturated };
  const shardIds = new Set((await io.shardsOfIds(report.excluded)).values());
  const pool = io.poolShards.filter((s) => shardIds.has(s.id));
  const leaked = await pixelDuplicates(report.pairs, { test: await listShards(io.targetTest), pool }, guard.pixelCorrelation);
  return { leaked, saturated: report.saturated };
}

/**
 * Merges every search activity's hits into each target's top-k, one target chunk at a time (its
 * partitions' tables folded batch by batch), and appends them to the merged hits table: memory grows
 * with the chunk, never with the run's hits. The leakage guard's candidates are read off the test
 * targets' lists on the way.
 */
async function mergeChunkHits(db: Connection, plan: SelectionPlan, retrieval: RunConfig['retrieval'], targets: TargetInstance[]): Promise<{ hits: LanceTable; leakage: LeakageReport }> {
  const tables = selectionTables(plan.run);
  const split = new Map(targets.map((t) => [t.id, t.split]));
  const splitOf = (id: string) => split.get(id) ?? '';
  const leakage = leakageExclusions([], retrieval.leakageGuard.threshold);
  let written = 0;
  for (let c = 0; c < plan.chunks; c++) {
    const topk = new Map<string, Neighbour[]>();
    for (let p = 0; p < plan.partitions; p++) {
      for await (const batch of hitBatches(await db.openTable(tables.chunkHits(c, p)))) mergeHits(topk, batch, retrieval.k);
    }
    const chunk = [...topk].map(([targetId, neighbours]) => ({ targetId, neighbours }));
    written += await writeMergedHits(db, tables.hits, chunk, splitOf, c === 0);
    leakageExclusions(chunk.filter((t) => splitOf(t.targetId) === 'test'), retrieval.leakageGuard.threshold, leakage);
  }
  return { hits: await indexMergedHits(db, tables.hits, written), leakage };
}

/**
 * Merges the search activities' hits (`mergeChunkHits`), applies the leakage guard and the
 * selection policy, and writes the selection table, the subset manifest (JSONL, in selection order)
 * and the stats. Chunk tables are left in place, so a retry reads the same hits.
 */
export async function selectFromHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  const db = await openStore(plan.store);
  const tables = selectionTables(plan.run);
  const targets = await readTargets(plan.workDir);
  const { hits, leakage } = await mergeChunkHits(db, plan, retrieval, targets);

  const poolShards = await readPoolShards(plan.workDir);
  const vectors = await openVectors(db, plan.encoderId);
  const { leaked, saturated } = await leakedPoolImages(leakage, retrieval.leakageGuard, { targetTest, poolShards, shardsOfIds: (ids) => shardsOf(vectors, ids, shardFilter(poolShards.map((s) => s.id))) });
  const candidates = mergedCandidates(hits, targets.filter((t) => t.split === 'train'));
  const selection = await selectByPolicy(candidates, retrieval, { leaked, targetIds: new Set(targets.map((t) => t.id)) });

  const shardOf = await shardsOf(vectors, new Set(selection.samples.map((s) => s.poolId)), shardFilter(poolShards.map((s) => s.id)));
  const samples = selection.samples.map((s) => ({ ...s, shardId: shardOf.get(s.poolId)! }));
  await writeSelection(db, tables.selection, samples);

  const files = selectionFiles(plan.workDir);
  const manifest = samples.map((s) =>
    JSON.stringify({ id: s.poolId, shard_id: s.shardId, order: s.order, hit_count: s.hitCount, best_rank: s.bestRank, closest_target: s.closestTarget, closest_label: s.closestLabel, distance: s.distance }),
  );
  await writeLocation(files.manifest, manifest.join('\n') + '\n');
  const stats = selectionStats(selection, {
    policy: retrieval.policy,
    budget: retrieval.policy === 'budget' ? retrieval.budget : undefined,
    path: plan.path,
    leakageSaturated: saturated,
  });
  await writeLocation(files.stats, JSON.stringify(stats, null, 2) + '\n');
  return stats;
}

/** Drops the per-chunk hits tables once the merged hits are written. */
export async function dropChunkHits(plan: SelectionPlan): Promise<void> {
  const db = await openStore(plan.store);
  const tables = selectionTables(plan.run);
  for (let c = 0; c < plan.chunks; c++) {
    for (let p = 0; p < plan.partitions; p++) await db.dropTable(tables.chunkHits(c, p)).catch(() => undefined);
  }
}
