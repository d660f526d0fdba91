import type { RunConfig } from '../config/schema';
import { selectionFiles } from '../run-layout';
import { listShards } from '../sources/list-shards';
import { readExistingText } from '../storage/location';
import { openStore } from '../vectors/connect';
import { sqlIn } from '../vectors/tables';
import { sheetTargets, writeContactSheet } from './contact-sheet';
import { readPoolShards, readTargets, type SelectionPlan } from './plan';
import { writeSubsetShards } from './subset-shards';
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

/** The subset as WebDataset shards for the trainer, and the contact sheet for people. */
export async function materializeSubset(plan: SelectionPlan, config: RunConfig): Promise<SubsetOutputs> {
  const files = selectionFiles(plan.workDir);
  const poolShards = await readPoolShards(plan.workDir);
  const { shards, samples } = await writeSubsetShards(files.manifest, poolShards, files.shards, config.retrieval.subsetShardSize);
  const outputs: SubsetOutputs = { shards, samples, manifest: files.manifest, stats: files.stats };

  const sheet = config.retrieval.contactSheet;
  if (sheet.targets > 0) {
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
