import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import type { Neighbour } from '../retrieval/running-topk';
import { selectionFiles } from '../run-layout';
import { listShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';
import { deleteFolderLocation, locationIn, readExistingText, writeLocation } from '../storage/location';
import { openVectors, shardFilter, shardsOf } from '../retrieval/vector-store';
import { openStore } from '../vectors/connect';
import { removedCandidates } from '../dedup/exclusions';
import { type LeakageReport, leakageExclusions } from './leakage';
import { pixelDuplicates } from './pixel-duplicates';
import { readPoolShards, readTargets, type SelectionPlan } from './plan';
import { isEvaluationSplit } from './target-set';
import { selectByClusters, storeClusterInput } from './cluster-policy';
import { selectByPolicy, usesBudget } from './policy';
import { type SelectionStats, selectionStats } from './stats';
import { gatherMergedChunks, hitBatches, indexMergedHits, mergedCandidates, mergeHits, selectionTables, writeMergedChunk, writeSelection } from './tables';

/**
 * The leakage guard: pool images whose embedding is within the cosine threshold of a target image
 * of an evaluation split (validation, test) are candidates; with `pixelCorrelation` set, only
 * candidates whose pixels match are excluded. `guarded`: the sources those images are read from.
 */
async function leakedPoolImages(
  report: LeakageReport,
  guard: RunConfig['retrieval']['leakageGuard'],
  io: { guarded: SourceSpec[]; poolShards: ShardRef[]; shardsOfIds: (ids: Set<string>) => Promise<Map<string, string>> },
): Promise<{ leaked: Set<string>; saturated: number }> {
  if (!guard.enabled) return { leaked: new Set(), saturated: 0 };
  if (guard.pixelCorrelation === null || report.pairs.length === 0) return { leaked: report.excluded, saturated: report.saturated };
  const shardIds = new Set((await io.shardsOfIds(report.excluded)).values());
  const pool = io.poolShards.filter((s) => shardIds.has(s.id));
  const evaluation = (await Promise.all(io.guarded.map((spec) => listShards(spec)))).flat();
  const leaked = await pixelDuplicates(report.pairs, { test: evaluation, pool }, guard.pixelCorrelation);
  return { leaked, saturated: report.saturated };
}

export interface MergedChunk {
  chunk: number;
  targets: number;
  hits: number;
}

/** What the leakage guard reads off one chunk's evaluation targets (validation and test): the pairs and the saturated count (the excluded ids are the pairs' pool ids). */
type LeakagePart = Pick<LeakageReport, 'pairs' | 'saturated'>;

/**
 * One merge activity's work: target chunk `chunk`'s partition tables folded batch by batch into each
 * target's top-k, written to the chunk's merged table, and the leakage guard's candidates read off
 * its evaluation targets' lists into the chunk's leakage file (those targets only: small). Memory grows
 * with the chunk, never with the run's hits. Both are overwritten whole: a retry changes nothing.
 */
export async function mergeTargetChunk(plan: SelectionPlan, retrieval: RunConfig['retrieval'], chunk: number): Promise<MergedChunk> {
  const db = await openStore(plan.store);
  const tables = selectionTables(plan.run);
  const split = new Map((await readTargets(plan.workDir)).map((t) => [t.id, t.split]));
  const splitOf = (id: string) => split.get(id) ?? '';
  const topk = new Map<string, Neighbour[]>();
  for (let p = 0; p < plan.partitions; p++) {
    for await (const batch of hitBatches(await db.openTable(tables.chunkHits(chunk, p)))) mergeHits(topk, batch, retrieval.k);
  }
  const merged = [...topk].map(([targetId, neighbours]) => ({ targetId, neighbours }));
  const hits = await writeMergedChunk(db, tables.mergedChunk(chunk), merged, splitOf);
  const { pairs, saturated } = leakageExclusions(merged.filter((t) => isEvaluationSplit(splitOf(t.targetId))), retrieval.leakageGuard.threshold);
  await writeLocation(leakageFile(plan, chunk), JSON.stringify({ pairs, saturated } satisfies LeakagePart));
  return { chunk, targets: merged.length, hits };
}

const leakageFile = (plan: SelectionPlan, chunk: number) => locationIn(selectionFiles(plan.workDir).leakage, `${chunk}.json`);

/** The leakage guard's candidates of every chunk, in chunk order. */
async function chunksLeakage(plan: SelectionPlan): Promise<LeakageReport> {
  const report: LeakageReport = { excluded: new Set(), pairs: [], saturated: 0 };
  for (let c = 0; c < plan.chunks; c++) {
    const part = JSON.parse(await readExistingText(leakageFile(plan, c))) as LeakagePart;
    for (const pair of part.pairs) {
      report.excluded.add(pair.poolId);
      report.pairs.push(pair);
    }
    report.saturated += part.saturated;
  }
  return report;
}

/**
 * Gathers the merge activities' tables into the merged hits table (`selection_<run>_hits`, indexed
 * by rank), applies the leakage guard and the selection policy, and writes the selection table, the
 * subset manifest (JSONL, in selection order) and the stats. The chunks' tables are left in place,
 * so a retry reads the same hits.
 */
export async function selectFromMergedHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  const db = await openStore(plan.store);
  const tables = selectionTables(plan.run);
  const targets = await readTargets(plan.workDir);
  const chunks = Array.from({ length: plan.chunks }, (_, c) => tables.mergedChunk(c));
  const hits = await indexMergedHits(db, tables.hits, await gatherMergedChunks(db, tables.hits, chunks));
  const leakage = await chunksLeakage(plan);

  const poolShards = await readPoolShards(plan);
  const vectors = await openVectors(db, plan.encoderId);
  const guarded = plan.guardedSources ?? [targetTest];
  const { leaked, saturated } = await leakedPoolImages(leakage, retrieval.leakageGuard, { guarded, poolShards, shardsOfIds: (ids) => shardsOf(vectors, ids, shardFilter(poolShards.map((s) => s.id))) });
  // Pool images that deduplication removed are excluded with the leaked ones, and counted apart
  // (stats.dedupRemoved): those among the hits, or all of them where the policy draws from the whole pool.
  const dedupRemoved = plan.dedupTable ? await removedCandidates(db, plan.dedupTable, retrieval.policy === 'cluster' ? undefined : hits, leaked) : new Set<string>();
  for (const id of dedupRemoved) leaked.add(id);
  const train = targets.filter((t) => t.split === 'train');
  const candidates = mergedCandidates(hits, train);
  const exclusions = { leaked, targetIds: new Set(targets.map((t) => t.id)) };
  const selection =
    retrieval.policy === 'cluster'
      ? await selectByClusters(candidates, retrieval, exclusions, await storeClusterInput(vectors, plan, poolShards.map((s) => s.id), train.map((t) => t.id), retrieval.blockRows))
      : await selectByPolicy(candidates, retrieval, exclusions);

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
    budget: usesBudget(retrieval) ? retrieval.budget : undefined,
    path: plan.path,
    leakageSaturated: saturated,
    dedupRemoved: plan.dedupTable ? dedupRemoved.size : undefined,
  });
  await writeLocation(files.stats, JSON.stringify(stats, null, 2) + '\n');
  return stats;
}

/** The merge and the selection in one activity, as executions started before `merge-by-chunk` run them: every chunk in turn. */
export async function selectFromHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  for (let c = 0; c < plan.chunks; c++) await mergeTargetChunk(plan, retrieval, c);
  return selectFromMergedHits(plan, retrieval, targetTest);
}

/** Drops the search activities' and the merge activities' tables, and the chunks' leakage files, once the merged hits are written. */
export async function dropChunkHits(plan: SelectionPlan): Promise<void> {
  const db = await openStore(plan.store);
  const tables = selectionTables(plan.run);
  for (let c = 0; c < plan.chunks; c++) {
    for (let p = 0; p < plan.partitions; p++) await db.dropTable(tables.chunkHits(c, p)).catch(() => undefined);
    await db.dropTable(tables.mergedChunk(c)).catch(() => undefined);
  }
  await deleteFolderLocation(selectionFiles(plan.workDir).leakage);
}
