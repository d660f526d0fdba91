import { MATERIALIZE_GROUP_SAMPLES, type RunConfig } from '../config/schema';
import { planShards } from '../embed/shard-plan';
import { selectionFiles } from '../run-layout';
import { listShards } from '../sources/list-shards';
import { readExistingText } from '../storage/location';
import { shardSetRange } from '../webdataset/writer';
import { openStore } from '../vectors/connect';
import { sqlIn } from '../vectors/tables';
import { sheetTargets, writeContactSheet } from './contact-sheet';
import { readPoolShards, readTargets, type SelectionPlan } from './plan';
import { planSubsetShardGroups, type SubsetShardPlan, writeSubsetShardGroup, writeSubsetShards } from './subset-shards';
import { readHits, selectionTables } from './tables';

export interface SubsetOutputs {
  /**
   * The subset shards as a webdataset source's `shards`: one brace range (lib/selection/subset-shards.ts);
   * a list of every shard in results of 0.4.0 and before, which stage records and executions in flight still hold.
   */
  shards: string | string[];
  samples: number;
  manifest: string;
  stats: string;
  contactSheet?: string;
}

/**
 * The subset as WebDataset shards for the trainer, and the contact sheet for people, in one activity.
 * Kept for executions started before selectSubset's `materialize-by-shard-group` patch; the
 * workflow now plans groups, copies each in its own activity, then finishes (below).
 */
export async function materializeSubset(plan: SelectionPlan, config: RunConfig): Promise<SubsetOutputs> {
  const files = selectionFiles(plan.workDir);
  const poolShards = await readPoolShards(plan);
  const { shards, samples } = await writeSubsetShards(files.manifest, poolShards, files.shards, config.retrieval.subsetShardSize);
  return withContactSheet({ shards, samples, manifest: files.manifest, stats: files.stats }, plan, config);
}

/** Plans the subset's copy as groups of consecutive pool shards (lib/selection/subset-shards.ts), each for its own activity. */
export async function planSubsetGroups(plan: SelectionPlan, retrieval: RunConfig['retrieval']): Promise<SubsetShardPlan> {
  const files = selectionFiles(plan.workDir);
  const groupSamples = retrieval.materializeGroupSamples ?? MATERIALIZE_GROUP_SAMPLES;
  // The pool's shard plan page by page where the selection has one (folders planned by 0.4.0 and before hold a list).
  const poolShards = plan.poolShards ? planShards(plan.poolShards) : await readPoolShards(plan);
  return planSubsetShardGroups(files.manifest, poolShards, { shards: files.shards, groups: files.subsetGroups }, retrieval.subsetShardSize, groupSamples);
}

/** Copies one group of the subset's plan into its own subset shards. */
export async function writeSubsetGroup(plan: SelectionPlan, group: number): Promise<{ samples: number; shards: number }> {
  const files = selectionFiles(plan.workDir);
  return writeSubsetShardGroup(files.subsetGroups, group, files.shards);
}

/** Once every group is copied: the subset's shards as one range, and the contact sheet. */
export async function finishSubset(plan: SelectionPlan, config: RunConfig, subset: SubsetShardPlan): Promise<SubsetOutputs> {
  const files = selectionFiles(plan.workDir);
  const shards = subset.shards > 0 ? shardSetRange(files.shards, 'subset', subset.shards) : [];
  return withContactSheet({ shards, samples: subset.samples, manifest: files.manifest, stats: files.stats }, plan, config);
}

/** Draws the contact sheet (where one is asked for) beside the subset's outputs. */
async function withContactSheet(outputs: SubsetOutputs, plan: SelectionPlan, config: RunConfig): Promise<SubsetOutputs> {
  const files = selectionFiles(plan.workDir);
  const sheet = config.retrieval.contactSheet;
  if (sheet.targets > 0) {
    const poolShards = await readPoolShards(plan);
    const chosen = sheetTargets((await readTargets(plan.workDir)).filter((t) => t.split === 'train'), sheet.targets);
    const manifest = (await readExistingText(files.manifest)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; shard_id: string });
    const shardOf = new Map(manifest.map((m) => [m.id, m.shard_id]));
    const db = await openStore(plan.store);
    const hits = await readHits(await db.openTable(selectionTables(plan.run).hits), sqlIn('target_id', chosen.map((t) => t.id)));
    const rows = chosen.map((t) => ({
      target: t.id,
      neighbours: hits
        .filter((h) => h.targetId === t.id && shardOf.has(h.poolId))
        .sort((a, b) => a.rank - b.rank)
        .slice(0, sheet.neighbours)
        .map((h) => h.poolId),
    }));
    const shardIds = new Set(rows.flatMap((r) => r.neighbours.map((id) => shardOf.get(id))));
    await writeContactSheet(files.contactSheet, rows, { targetShards: await listShards(config.target.train), poolShards: poolShards.filter((s) => shardIds.has(s.id)) });
    outputs.contactSheet = files.contactSheet;
  }
  return outputs;
}
