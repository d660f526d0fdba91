import { heartbeat } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { type AnnParams, ensureAnnIndex } from '../lib/retrieval/ann';
import { openVectors } from '../lib/retrieval/vector-store';
import { dropChunkHits, selectFromHits } from '../lib/selection/finish';
import { materializeSubset as writeSubset, type SubsetOutputs } from '../lib/selection/materialize';
import { planSelection as plan, type SelectionPlan } from '../lib/selection/plan';
import { type ChunkResult, searchTargetChunk } from '../lib/selection/search-chunk';
import type { SelectionStats } from '../lib/selection/stats';
import { openStore } from '../lib/vectors/connect';
import { failFastOnBadInput } from './failures';

export async function planSelection(config: RunConfig): Promise<SelectionPlan> {
  return failFastOnBadInput(() => plan(config));
}

export async function buildPoolIndex(store: string, encoderId: string, params: AnnParams): Promise<{ built: boolean; seconds: number }> {
  return failFastOnBadInput(async () => ensureAnnIndex(await openVectors(await openStore(store), encoderId), params));
}

export async function searchTargets(plan: SelectionPlan, retrieval: RunConfig['retrieval'], chunk: number, partition: number): Promise<ChunkResult> {
  return failFastOnBadInput(() => searchTargetChunk(plan, retrieval, chunk, partition, (done) => heartbeat({ done })));
}

export async function selectSubsetFromHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  return failFastOnBadInput(() => selectFromHits(plan, retrieval, targetTest));
}

export async function materializeSubset(plan: SelectionPlan, config: RunConfig): Promise<SubsetOutputs> {
  return failFastOnBadInput(() => writeSubset(plan, config));
}

export async function dropSearchHits(plan: SelectionPlan): Promise<void> {
  return dropChunkHits(plan);
}
