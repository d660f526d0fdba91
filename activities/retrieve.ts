import { heartbeat } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { type AnnParams, ensureAnnIndex } from '../lib/retrieval/ann';
import { openVectors } from '../lib/retrieval/vector-store';
import { dropChunkHits, type MergedChunk, mergeTargetChunk as mergeChunk, selectFromHits, selectFromMergedHits as selectFromMerged } from '../lib/selection/finish';
import * as subset from '../lib/selection/materialize';
import type { SubsetShardPlan } from '../lib/selection/subset-shards';
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

export async function mergeTargetChunk(plan: SelectionPlan, retrieval: RunConfig['retrieval'], chunk: number): Promise<MergedChunk> {
  return failFastOnBadInput(() => mergeChunk(plan, retrieval, chunk));
}

export async function selectFromMergedHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  return failFastOnBadInput(() => selectFromMerged(plan, retrieval, targetTest));
}

/** The merge and the selection in one activity: executions started before selectSubset's `merge-by-chunk` patch still call it. */
export async function selectSubsetFromHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  return failFastOnBadInput(() => selectFromHits(plan, retrieval, targetTest));
}

/** The subset in one activity: executions started before selectSubset's `materialize-by-shard-group` patch still call it. */
export async function materializeSubset(plan: SelectionPlan, config: RunConfig): Promise<subset.SubsetOutputs> {
  return failFastOnBadInput(() => subset.materializeSubset(plan, config));
}

export async function planSubsetGroups(plan: SelectionPlan, retrieval: RunConfig['retrieval']): Promise<SubsetShardPlan> {
  return failFastOnBadInput(() => subset.planSubsetGroups(plan, retrieval));
}

export async function writeSubsetGroup(plan: SelectionPlan, group: number): Promise<{ samples: number; shards: number }> {
  return failFastOnBadInput(() => subset.writeSubsetGroup(plan, group));
}

export async function finishSubset(plan: SelectionPlan, config: RunConfig, groups: SubsetShardPlan): Promise<subset.SubsetOutputs> {
  return failFastOnBadInput(() => subset.finishSubset(plan, config, groups));
}

export async function dropSearchHits(plan: SelectionPlan): Promise<void> {
  return dropChunkHits(plan);
}
