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
  /** The first search the next execution runs, numbered chunk by chunk: chunk x partitions + partition. */
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
 * Stage 2 of SEPT: the task-specific subset, on a pool already embedded.
 *
 * Plan: list the targets and choose the search path; embed target images that have no vector yet
 * (the embedding stage as a child, same encoder and code path); build the pool's index if the ANN
 * path was chosen; search every target chunk against every pool partition in a bounded window,
 * each writing its hits to LanceDB, `retrieval.searchesPerExecution` searches an execution, which
 * then continues as new, so that the history stays bounded whatever the pool and the target; merge
 * the hits and select under the policy; write the subset shards and the contact sheet; drop the
 * per-chunk hits.
 */
export async function selectSubset(input?: RunConfigInput, carry?: SelectSubsetCarry): Promise<SelectSubsetResult> {
  const config = await resolvedRunConfig(input, carry);
  const r = config.retrieval;
  const cpu = cpuWork();

  const plan = carry?.plan ?? (await searchPlan(config));
  const searches = plan.chunks * plan.partitions;
  const first = carry?.next ?? 0;
  // Executions started before the `searches-per-execution` patch run every search in one history,
  // and so do configurations resolved before the setting existed.
  const last = patched('searches-per-execution') ? Math.min(searches, first + (r.searchesPerExecution ?? searches)) : searches;
  const page = Array.from({ length: last - first }, (_, i) => ({ chunk: Math.floor((first + i) / plan.partitions), partition: (first + i) % plan.partitions }));
  await inWindow(page, r.window, async ({ chunk, partition }) => {
    await cpu.searchTargets(plan, r, chunk, partition);
  });
  if (last < searches) return continueAsNew<typeof selectSubset>(config, { plan, next: last });

  const stats = await cpu.selectSubsetFromHits(plan, r, config.target.test);
  const outputs = await cpu.materializeSubset(plan, config);
  await cpu.dropSearchHits(plan);

  const { encoderId, poolRows, targets, path, cost, partitions, chunks } = plan;
  return { plan: { encoderId, poolRows, targets, path, cost, partitions, chunks }, stats, outputs, selectionTable: `selection_${plan.run}` };
}
