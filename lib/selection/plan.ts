import { getHeapStatistics } from 'node:v8';
import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { selectionMemoryIssue } from '../config/work-limits';
import { readShardPlanPage, type ShardPlan, writeShardList } from '../embed/shard-plan';
import { dedupEncoderId } from '../dedup/encoder-id';
import { completedGroups } from '../dedup/tables';
import type { AnnParams } from '../retrieval/ann';
import type { SearchCost } from '../retrieval/cost';
import { RetrievalInputError } from '../retrieval/errors';
import { embeddedPool, searchPath } from '../retrieval/embedded-pool';
import { vectorsById } from '../retrieval/vector-store';
import { RunLayout, selectionFiles } from '../run-layout';
import { listAllShards } from '../sources/list-shards';
import { contentFingerprint, type ShardRef } from '../sources/shard-ref';
import { readExistingText, writeLocation } from '../storage/location';
import { changedSinceCommit } from '../vectors/commit';
import { validatePolicy } from './policy';
import { evaluationSources, listTargetInstances, type TargetInstance } from './target-set';

/** What every selection activity needs, small enough for payloads: the long lists live in files under `workDir`. */
export interface SelectionPlan {
  run: string;
  store: string;
  encoderId: string;
  dim: number;
  /** The run's selection folder or prefix (lib/run-layout.ts): the target list, the pool's shards and every output. */
  workDir: string;
  /**
   * The pool's shards, sorted by id, as a shard plan (lib/embed/shard-plan.ts): a search reads its
   * partition's by offset. Plans of 0.4.0 and before, still carried by executions in flight, have
   * none: their shards are in `pool-shards.json` under `workDir`, read whole.
   */
  poolShards?: ShardPlan;
  /** Searched target instances: train, and the evaluation splits' (validation and test) for the leakage guard. */
  targets: { train: number; test: number; validation?: number };
  /**
   * Target instances without a vector of their current content: those without any, and those of
   * target shards changed since they were embedded (an image replaced in place keeps its id). The
   * workflow embeds them, then plans again.
   */
  missingTargetVectors: number;
  poolRows: number;
  /** Whether the vectors table holds rows beyond the pool's (target images embedded alongside). */
  tableHasOtherRows: boolean;
  /** Pool shards split into this many partitions, each searched by its own activities. */
  partitions: number;
  /** Targets split into chunks of `targetChunk`. */
  chunks: number;
  path: 'exact' | 'ann';
  cost: SearchCost;
  ann: AnnParams;
  /** Pool deduplication's groups table (lib/dedup/), with `dedup.enabled`: the images it removed are never selected. */
  dedupTable?: string;
  /** Where the leakage guard's pixel check reads the evaluation splits' images; plans made before it existed guard target.test alone. */
  guardedSources?: SourceSpec[];
}

/** Where pool partition p of n lies in the sorted shard list: contiguous runs of it. */
function partitionRange(shards: number, partition: number, partitions: number): { from: number; to: number } {
  return { from: Math.floor((partition * shards) / partitions), to: Math.floor(((partition + 1) * shards) / partitions) };
}

/** Test instances are searched only to find their duplicates, for the leakage guard. */
export function searchedTargets(all: TargetInstance[], retrieval: RunConfig['retrieval']): TargetInstance[] {
  return retrieval.leakageGuard.enabled ? all : all.filter((t) => t.split === 'train');
}

/** Every target instance, train and test: none of them may enter the subset. */
export async function readTargets(workDir: string): Promise<TargetInstance[]> {
  const text = await readExistingText(selectionFiles(workDir).targets);
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as TargetInstance);
}

/** Every pool shard, sorted by id. */
export async function readPoolShards(plan: Pick<SelectionPlan, 'workDir' | 'poolShards'>): Promise<ShardRef[]> {
  if (plan.poolShards) return readShardPlanPage(plan.poolShards, 0, plan.poolShards.total);
  return JSON.parse(await readExistingText(selectionFiles(plan.workDir).poolShards)) as ShardRef[];
}

/** The shards of pool partition `partition`: its own bytes of the plan's list, not the whole list. */
export async function partitionPoolShards(plan: Pick<SelectionPlan, 'workDir' | 'poolShards' | 'partitions'>, partition: number): Promise<ShardRef[]> {
  if (!plan.poolShards) {
    const shards = await readPoolShards(plan);
    const { from, to } = partitionRange(shards.length, partition, plan.partitions);
    return shards.slice(from, to);
  }
  const { from, to } = partitionRange(plan.poolShards.total, partition, plan.partitions);
  return readShardPlanPage(plan.poolShards, from, to - from);
}

/**
 * Lists the target instances and the pool's shards (to files), checks the inputs, and chooses the
 * search path by estimated cost unless `retrieval.search` names one. Deterministic: planning twice
 * gives the same plan and the same files.
 */
export async function planSelection(config: RunConfig): Promise<SelectionPlan> {
  const r = config.retrieval;
  const { encoderId, db, table, dim, poolShards, poolRows } = await embeddedPool(config);
  const totalRows = await table.countRows();
  const all = await listTargetInstances(config.target);
  const targets = searchedTargets(all, r);
  const train = targets.filter((t) => t.split === 'train').length;
  validatePolicy(r, train, poolRows);
  if (poolRows === 0) throw new RetrievalInputError(`the pool has no vectors for encoder ${encoderId}: embed it first (sept embed)`);
  // Configurations resolved before the dedup section existed have none.
  const dedupTable = config.dedup?.enabled ? await completedGroups(db, await dedupEncoderId(config, encoderId), config.dedup, contentFingerprint(poolShards)) : undefined;
  // Now that the target is counted, topk-per-target's union is bounded too, before any search.
  const memory = selectionMemoryIssue(r, getHeapStatistics().heap_size_limit, { trainTargets: train, poolRows });
  if (memory) throw new RetrievalInputError(memory);

  const { missing } = await vectorsById(table, encoderId, targets.map((t) => t.id), dim);
  const changed = await changedSinceCommit(db, encoderId, await listAllShards([config.target.train, config.target.test]));
  const files = new RunLayout(config.outputDir, config.name).selection;
  await writeLocation(files.targets, all.map((t) => JSON.stringify(t)).join('\n') + '\n');
  const poolShardPlan = await writeShardList(poolShards, files.poolShardPlan);

  const { path, cost, ann } = await searchPath({ table, dim, poolRows }, { targets: targets.length, targetChunk: r.targetChunk, ann: r.ann, setting: r.search });
  return {
    run: config.name,
    store: config.store.uri,
    encoderId,
    dim,
    workDir: files.dir,
    poolShards: poolShardPlan,
    targets: { train, test: targets.filter((t) => t.split === 'test').length, ...(config.target.validationPerClass ? { validation: targets.filter((t) => t.split === 'validation').length } : {}) },
    missingTargetVectors: missing.length + changed.reduce((n, r) => n + r.samples, 0),
    poolRows,
    tableHasOtherRows: totalRows > poolRows,
    // The index searches the whole pool at once; the exact path fans out over partitions.
    partitions: path === 'ann' ? 1 : Math.min(poolShards.length, Math.ceil(poolRows / r.partitionRows)),
    chunks: Math.ceil(targets.length / r.targetChunk),
    path,
    cost,
    ann,
    ...(dedupTable ? { dedupTable } : {}),
    guardedSources: evaluationSources(config.target),
  };
}
