import { continueAsNew, executeChild, patched, workflowInfo } from '@temporalio/workflow';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import type { SubsetOutputs } from '../lib/selection/materialize';
import type { SelectionPlan } from '../lib/selection/plan';
import type { SelectionStats } from '../lib/selection/stats';
import { cpuWork } from './activity-options';
import { embedPool } from './embed-pool';
import { resolvedRunConfig } from './run-config';
import { inWindow } from './window';

export interface SelectSubsetResult {
  plan: Pick<SelectionPlan, 'encoderId' | 'poolRows' | 'targets' | 'path' | 'cost' | 'partitions' | 'chunks'>;
  stats: SelectionStats;
  outputs: SubsetOutputs;
  selectionTable: string;
}

/** What an execution hands to the next when it continues as new. */
export interface SelectSubsetCarry {
  plan: SelectionPlan;
  /** Searching (absent in carries of 0.4.0), or merging, once every search is done. */
  phase?: 'search' | 'merge';
  /** The first search the next execution runs, numbered chunk by chunk (chunk x partitions + partition); or the first target chunk it merges. */
  next: number;
}

/** Lists the targets and plans the search; embeds target images that have no vector yet, and builds the pool's index if the ANN path is chosen. */
async function searchPlan(config: RunConfig): Promise<SelectionPlan> {
  const cpu = cpuWork();
  let plan = await cpu.planSelection(config);
  if (plan.missingTargetVectors > 0) {
    // Run names are at most 63 characters; the child's name must stay valid too.
    const name = `${config.name.slice(0, 56)}-target`;
    await executeChild(embedPool, {
      workflowId: `${workflowInfo().workflowId}/embed-target`,
      args: [{ ...config, name, pool: { sources: [config.target.train, config.target.test] } }],
    });
    plan = await cpu.planSelection(config);
  }
  if (plan.path === 'ann') await cpu.buildPoolIndex(plan.store, plan.encoderId, plan.ann);
  return plan;
}

/**
 * The subset's shards copied group by group of pool shards in a bounded window, each group its own
 * numbered shards, so that the copy spreads over workers and a retry redoes one group; then the
 * contact sheet. The groups, at most MAX_PASS_ACTIVITIES (lib/config/work-limits.ts), share the
 * last execution's history with its searches.
 */
async function materializeByShardGroup(plan: SelectionPlan, config: RunConfig): Promise<SubsetOutputs> {
  const cpu = cpuWork();
  const subset = await cpu.planSubsetGroups(plan, config.retrieval);
  const groups = Array.from({ length: subset.groups }, (_, g) => g);
  await inWindow(groups, config.retrieval.window, async (group) => {
    await cpu.writeSubsetGroup(plan, group);
  });
  return cpu.finishSubset(plan, config, subset);
}

/**
 * The merge, one activity per target chunk in a bounded window, then the policy over every chunk's
 * merged hits. The merges count toward an execution's `retrieval.searchesPerExecution` with its
 * searches (`room` is what the searches left): past it, the execution continues as new.
 */
async function mergeByChunk(config: RunConfig, plan: SelectionPlan, from: number, room: number): Promise<SelectionStats> {
  const cpu = cpuWork();
  const to = Math.min(plan.chunks, from + room);
  const chunks = Array.from({ length: to - from }, (_, i) => from + i);
  await inWindow(chunks, config.retrieval.window, async (chunk) => {
    await cpu.mergeTargetChunk(plan, config.retrieval, chunk);
  });
  if (to < plan.chunks) await continueAsNew<typeof selectSubset>(config, { plan, phase: 'merge', next: to });
  return cpu.selectFromMergedHits(plan, config.retrieval, config.target.test);
}

/**
 * Stage 2 of SEPT: the task-specific subset, on a pool already embedded.
 *
 * Plan: list the targets and choose the search path; embed target images that have no vector yet
 * (the embedding stage as a child, same encoder and code path); build the pool's index if the ANN
 * path was chosen; search every target chunk against every pool partition in a bounded window,
 * each writing its hits to LanceDB, `retrieval.searchesPerExecution` searches an execution, which
 * then continues as new, so that the history stays bounded whatever the pool and the target; merge
 * each target chunk's hits in an activity of its own (counted with the searches), then select under
 * the policy; write the subset shards, group by group of pool shards, and the contact sheet; drop the
 * per-chunk hits.
 */
export async function selectSubset(input?: RunConfigInput, carry?: SelectSubsetCarry): Promise<SelectSubsetResult> {
  const config = await resolvedRunConfig(input, carry);
  const r = config.retrieval;
  const cpu = cpuWork();

  const plan = carry?.plan ?? (await searchPlan(config));
  const searches = plan.chunks * plan.partitions;
  const merging = carry?.phase === 'merge';
  const first = merging ? searches : (carry?.next ?? 0);
  // Executions started before the `searches-per-execution` patch run every search in one history,
  // and so do configurations resolved before the setting existed.
  const last = patched('searches-per-execution') ? Math.min(searches, first + (r.searchesPerExecution ?? searches)) : searches;
  const page = Array.from({ length: last - first }, (_, i) => ({ chunk: Math.floor((first + i) / plan.partitions), partition: (first + i) % plan.partitions }));
  await inWindow(page, r.window, async ({ chunk, partition }) => {
    await cpu.searchTargets(plan, r, chunk, partition);
  });
  if (last < searches) return continueAsNew<typeof selectSubset>(config, { plan, next: last });

  // Executions started before the `merge-by-chunk` patch merge every chunk and select in one activity.
  const stats = patched('merge-by-chunk')
    ? await mergeByChunk(config, plan, carry?.phase === 'merge' ? carry.next : 0, Math.max(0, (r.searchesPerExecution ?? Infinity) - (last - first)))
    : await cpu.selectSubsetFromHits(plan, r, config.target.test);
  // Executions started before the `materialize-by-shard-group` patch copy the whole subset in one activity.
  const outputs = patched('materialize-by-shard-group') ? await materializeByShardGroup(plan, config) : await cpu.materializeSubset(plan, config);
  await cpu.dropSearchHits(plan);

  const { encoderId, poolRows, targets, path, cost, partitions, chunks } = plan;
  return { plan: { encoderId, poolRows, targets, path, cost, partitions, chunks }, stats, outputs, selectionTable: `selection_${plan.run}` };
}
