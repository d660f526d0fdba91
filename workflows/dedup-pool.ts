import { continueAsNew } from '@temporalio/workflow';
import type { RunConfigInput } from '../lib/config/schema';
import type { DedupStats } from '../lib/dedup/groups';
import type { DedupPlan } from '../lib/dedup/plan';
import { cpuWork } from './activity-options';
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
  const config = await resolvedRunConfig(input, carry);
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
