import { heartbeat } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { plantedCopiesIn } from '../lib/demo/materialize';
import { dropEdges, type DedupStats, linkDuplicates as link, reportDuplicates } from '../lib/dedup/groups';
import { type DedupPlan, planDedup as plan } from '../lib/dedup/plan';
import { joinChunk } from '../lib/dedup/self-join';
import { failFastOnBadInput } from './failures';

export async function planDedup(config: RunConfig): Promise<DedupPlan> {
  return failFastOnBadInput(() => plan(config));
}

export async function joinDedupChunk(plan: DedupPlan, chunk: number, partition: number): Promise<{ edges: number }> {
  return failFastOnBadInput(async () => ({ edges: await joinChunk(plan, chunk, partition, (done) => heartbeat({ done })) }));
}

export async function linkDuplicates(plan: DedupPlan): Promise<{ groups: number; removed: number }> {
  return failFastOnBadInput(() => link(plan));
}

/** The groups counted and drawn, and measured against the pool's planted copies where it holds the demo's (`poolSources`). */
export async function reportDedup(plan: DedupPlan, dedup: Pick<RunConfig['dedup'], 'contactSheet' | 'maxRemovedShare'>, poolSources: SourceSpec[]): Promise<DedupStats> {
  return failFastOnBadInput(async () => reportDuplicates(plan, dedup.contactSheet, await plantedCopiesIn(poolSources), dedup.maxRemovedShare));
}

export async function dropDedupEdges(plan: DedupPlan): Promise<void> {
  return dropEdges(plan);
}
