import { type ChildWorkflowOptions, continueAsNew, executeChild } from '@temporalio/workflow';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import type { DedupStats } from '../lib/dedup/groups';
import type { DedupPlan } from '../lib/dedup/plan';
import { dedupRunConfig } from '../lib/dedup/run-config';
import { cpuWork } from './activity-options';
import { embedPool } from './embed-pool';
import { resolvedRunConfig } from './run-config';
import { inWindow } from './window';

/** What one dedupPool execution hands to the next when it continues as new. */
export interface DedupPoolCarry {
  plan: DedupPlan;
  /** The first self-join the next execution runs, numbered chunk by chunk (chunk x partitions + partition). */
  next: number;
}

/**
 * Pool deduplication, on a pool already embedded (docs/stages/dedup.md).
 *
 * Plan: list the pool's shards and choose the self-join's search path; unless the groups of this
 * encoder, settings and pool are already in the store (then they are reused), build the pool's
 * index if the ann path was chosen, join every query chunk of pool rows against every pool
 * partition in a bounded window (`retrieval.window`), each writing its edges to LanceDB,
 * `retrieval.searchesPerExecution` joins an execution, which then continues as new; link the edges
 * into groups in one activity and drop them; count the groups and draw the largest.
 */
export async function dedupPool(input?: RunConfigInput, carry?: DedupPoolCarry): Promise<DedupStats> {
  // With dedup.encoder the groups are the detector's, started alone too (where its embedding must already be done).
  const config = dedupRunConfig(await resolvedRunConfig(input, carry));
  const r = config.retrieval;
  const cpu = cpuWork();
  const plan = carry?.plan ?? (await cpu.planDedup(config));
  if (!plan.complete) {
    if (!carry && plan.path === 'ann') await cpu.buildPoolIndex(plan.store, plan.encoderId, plan.ann);
    const joins = plan.chunks * plan.partitions;
    const first = carry?.next ?? 0;
    const last = Math.min(joins, first + (r.searchesPerExecution ?? joins));
    const page = Array.from({ length: last - first }, (_, i) => ({ chunk: Math.floor((first + i) / plan.partitions), partition: (first + i) % plan.partitions }));
    await inWindow(page, r.window, async ({ chunk, partition }) => {
      await cpu.joinDedupChunk(plan, chunk, partition);
    });
    if (last < joins) return continueAsNew<typeof dedupPool>(config, { plan, next: last });
    await cpu.linkDuplicates(plan);
    await cpu.dropDedupEdges(plan);
  }
  return cpu.reportDedup(plan, config.dedup, config.pool.sources);
}

type ChildOptions = Pick<ChildWorkflowOptions, 'workflowId' | 'typedSearchAttributes' | 'staticSummary'>;

/**
 * The pool's deduplication as septPipeline and septExperiment run it, a child `dedupPool` under
 * `options('dedup')`. With `dedup.encoder` (a copy-detection model), the pool is first embedded
 * with that encoder by an `embedPool` child under `options('dedup-embed')`, into its own tables
 * (embedded shards are skipped, as in stage 1), and its id is returned; undefined when the groups
 * are found on the retrieval encoder's vectors. A configuration without `dedup.encoder` runs the
 * one child it ran before that setting existed, with the same arguments: no patch is needed.
 */
export async function deduplicatePool(config: RunConfig, options: (step: 'dedup' | 'dedup-embed') => ChildOptions): Promise<string | undefined> {
  const run = dedupRunConfig(config);
  const encoderId = run === config ? undefined : (await executeChild(embedPool, { ...options('dedup-embed'), args: [run] })).encoderId;
  await executeChild(dedupPool, { ...options('dedup'), args: [run] });
  return encoderId;
}
