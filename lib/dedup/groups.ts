import { writeContactSheet } from '../selection/contact-sheet';
import { readPoolShards } from '../selection/plan';
import { openVectors, shardFilter, shardsOf } from '../retrieval/vector-store';
import { dedupFiles } from '../run-layout';
import { readLocationText, writeLocation } from '../storage/location';
import { openStore } from '../vectors/connect';
import { type DuplicateAgreement, type KnownCopy, nearDuplicateAgreement } from './agreement';
import { RetrievalInputError } from '../retrieval/errors';
import { DuplicateComponents } from './components';
import type { DedupPlan } from './plan';
import { dedupTables, edgeBatches, readGroups, writeDedupRecord, writeGroups } from './tables';

/**
 * Streams every self-join activity's edges into the connected components, writes the groups table
 * (one row per grouped image, the smallest id of each group kept), then the completion record.
 * Memory: the images that have a duplicate, never the pool. A retry writes the same table.
 */
export async function linkDuplicates(plan: DedupPlan): Promise<{ groups: number; removed: number }> {
  const db = await openStore(plan.store);
  const tables = dedupTables(plan.encoderId, plan.settings);
  const components = new DuplicateComponents();
  for (let c = 0; c < plan.chunks; c++) {
    for (let p = 0; p < plan.partitions; p++) {
      for await (const edges of edgeBatches(await db.openTable(tables.edges(c, p)))) for (const [a, b] of edges) components.link(a, b);
    }
  }
  const groups = components.groups();
  await writeGroups(db, tables.groups, groups);
  await writeDedupRecord(db, tables.record, plan.poolFingerprint);
  return { groups: groups.length, removed: components.rows - groups.length };
}

/** Drops the self-join's edges tables once the groups are written. */
export async function dropEdges(plan: DedupPlan): Promise<void> {
  const db = await openStore(plan.store);
  const tables = dedupTables(plan.encoderId, plan.settings);
  for (let c = 0; c < plan.chunks; c++) for (let p = 0; p < plan.partitions; p++) await db.dropTable(tables.edges(c, p)).catch(() => undefined);
}

/** What deduplication found, as `<run>/dedup/stats.json` holds it. */
export interface DedupStats {
  groupsTable: string;
  threshold: number;
  neighbours: number;
  path: 'exact' | 'ann';
  poolRows: number;
  /** Groups of two or more near-duplicates; each keeps one image. */
  groups: number;
  /** Images removed: the members of a group that are not its representative. */
  removed: number;
  largestGroup: number;
  /** Whether the groups were those of an earlier run (same encoder, settings and pool shards). */
  reused: boolean;
  contactSheet?: string;
  /** Against the pool's known near-duplicates (the demo's planted copies), where it holds some. */
  plantedCopies?: DuplicateAgreement;
}

/** A run's dedup stats file (`dedupFiles(..).stats`) as written; undefined where the run deduplicated nothing. */
export async function readDedupStats(location: string): Promise<DedupStats | undefined> {
  const text = await readLocationText(location);
  return text === undefined ? undefined : (JSON.parse(text) as DedupStats);
}

/**
 * Counts the groups table into the run's stats file, and draws the largest groups (most members
 * first, then by representative) on a contact sheet: each representative, then its removed copies.
 * Fails, not retryably, where the groups would remove more than `maxRemovedShare` of the pool; measures
 * them against `known` copies where there are some.
 */
export async function reportDuplicates(plan: DedupPlan, sheet: { groups: number; copies: number }, known: KnownCopy[] = [], maxRemovedShare = 1): Promise<DedupStats> {
  const db = await openStore(plan.store);
  const table = await db.openTable(plan.groupsTable);
  const groups = await table.countRows('kept = true');
  const largest: { id: string; size: number }[] = [];
  for await (const batch of table.query().where('kept = true').select(['pool_id', 'group_size'])) {
    const [id, size] = ['pool_id', 'group_size'].map((c) => batch.getChild(c)!);
    for (let i = 0; i < batch.numRows; i++) largest.push({ id: String(id.get(i)), size: Number(size.get(i)) });
    largest.sort((a, b) => b.size - a.size || (a.id < b.id ? -1 : 1)).splice(Math.max(1, sheet.groups));
  }
  const removed = await table.countRows('kept = false');
  if (removed > maxRemovedShare * plan.poolRows) {
    throw new RetrievalInputError(
      `dedup would remove ${removed.toLocaleString('en-US')} of the pool's ${plan.poolRows.toLocaleString('en-US')} images (${((100 * removed) / plan.poolRows).toFixed(1)}%, largest group ${largest[0]?.size ?? 0}), more than dedup.maxRemovedShare (${maxRemovedShare}): encoder ${plan.encoderId} does not tell the pool's images apart at dedup.threshold ${plan.settings.threshold}; raise the threshold, or use a better-trained encoder`,
    );
  }
  const files = dedupFiles(plan.workDir);
  const stats: DedupStats = {
    groupsTable: plan.groupsTable,
    threshold: plan.settings.threshold,
    neighbours: plan.settings.neighbours,
    path: plan.path,
    poolRows: plan.poolRows,
    groups,
    removed,
    largestGroup: largest[0]?.size ?? 0,
    reused: plan.complete,
  };
  // Every group, read once, only where there are known copies to measure against.
  if (known.length > 0) stats.plantedCopies = nearDuplicateAgreement(await readGroups(table), known);
  const shown = sheet.groups === 0 ? [] : await readGroups(table, largest.slice(0, sheet.groups).map((g) => g.id));
  if (shown.length > 0) {
    shown.sort((a, b) => b.members.length - a.members.length || (a.representative < b.representative ? -1 : 1));
    const rows = shown.map((g) => ({ target: g.representative, neighbours: g.members.filter((m) => m !== g.representative).slice(0, sheet.copies) }));
    const poolShards = await readPoolShards({ workDir: plan.workDir, poolShards: plan.poolShards });
    const vectors = await openVectors(db, plan.encoderId);
    const holding = new Set((await shardsOf(vectors, new Set(rows.flatMap((r) => [r.target, ...r.neighbours])), shardFilter(poolShards.map((s) => s.id)))).values());
    const shards = poolShards.filter((s) => holding.has(s.id));
    await writeContactSheet(files.contactSheet, rows, { targetShards: shards, poolShards: shards });
    stats.contactSheet = files.contactSheet;
  }
  await writeLocation(files.stats, JSON.stringify(stats, null, 2) + '\n');
  return stats;
}
