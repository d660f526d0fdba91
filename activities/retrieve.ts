import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { type AnnParams, ensureAnnIndex } from '../lib/retrieval/ann';
import { RetrievalInputError } from '../lib/retrieval/errors';
import { openVectors } from '../lib/retrieval/vector-store';
import { dropChunkHits, selectFromHits } from '../lib/selection/finish';
import { materializeSubset as writeSubset, type SubsetOutputs } from '../lib/selection/materialize';
import { planSelection as plan, type SelectionPlan } from '../lib/selection/plan';
import { type ChunkResult, searchTargetChunk } from '../lib/selection/search-chunk';
import type { SelectionStats } from '../lib/selection/stats';
import { openStore } from '../lib/store/connect';
import { failFastOnBadInput } from './failures';

/** Bad retrieval input (empty targets, k or budget out of range, mixed encoders) fails the run at once, not retried; so do encoder errors. */
async function failFast<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await failFastOnBadInput(body);
  } catch (err) {
    if (err instanceof RetrievalInputError) throw ApplicationFailure.nonRetryable(err.message, err.name);
    throw err;
  }
}

/** Heartbeats every few seconds while a long native call (an index build) keeps the activity busy. */
async function withHeartbeats<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => heartbeat(), 5000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export async function planSelection(config: RunConfig): Promise<SelectionPlan> {
  return failFast(() => plan(config));
}

export async function buildPoolIndex(store: string, encoderId: string, params: AnnParams): Promise<{ built: boolean; seconds: number }> {
  return failFast(async () => withHeartbeats(ensureAnnIndex(await openVectors(await openStore(store), encoderId), params)));
}

export async function searchTargets(plan: SelectionPlan, retrieval: RunConfig['retrieval'], chunk: number, partition: number): Promise<ChunkResult> {
  return failFast(() => searchTargetChunk(plan, retrieval, chunk, partition, (done) => heartbeat({ done })));
}

export async function selectSubsetFromHits(plan: SelectionPlan, retrieval: RunConfig['retrieval'], targetTest: SourceSpec): Promise<SelectionStats> {
  return failFast(() => withHeartbeats(selectFromHits(plan, retrieval, targetTest)));
}

export async function materializeSubset(plan: SelectionPlan, config: RunConfig): Promise<SubsetOutputs> {
  return failFast(() => withHeartbeats(writeSubset(plan, config)));
}

export async function dropSearchHits(plan: SelectionPlan): Promise<void> {
  return dropChunkHits(plan);
}
