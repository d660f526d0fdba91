// What one workflow execution, one payload and one worker can hold, and so how much work a run's
// settings may put into each. A setting past one of these fails the run at its start, naming the
// setting and the limit, instead of failing a workflow task hours later. Pure (type imports only):
// the schema's maxima come from here.

import type { RunConfig } from './schema';

/**
 * Temporal's hard limits, as the server ships them (self-hosted defaults, the same on Temporal
 * Cloud): docs.temporal.io/self-hosted-guide/defaults and docs.temporal.io/workflow-execution/limits.
 * A cluster may set them lower in its dynamic config; septflow stays well under each.
 */
export const TEMPORAL_LIMITS = {
  /** `limit.blobSize.error`: 2 MB, one payload (an activity's argument or result, a workflow's input or carry). */
  payloadBytes: 2 * 1024 * 1024,
  /** `limit.historyCount.error`: 51,200 events in one execution's history (it warns at 10,240). */
  historyEvents: 51_200,
  /** `limit.historySize.error`: 50 MB of one execution's history (it warns at 10 MB). */
  historyBytes: 50 * 1024 * 1024,
  /** `limit.numPendingActivities.error`: 2,000 activities scheduled and not yet closed in one execution. */
  pendingActivities: 2_000,
} as const;

/** Events an execution spends besides its fan-out: its start, the configuration, plans, pages, compaction, its end. */
const OVERHEAD_EVENTS = 1_000;

/**
 * The most events one item of a fan-out adds to a history, at worst: 3 for its activity
 * (scheduled, started, completed) and 3 for the workflow task its completion wakes. An embedded
 * shard counts twice: its embedding and its commit, when shards are large and none share either.
 */
const EVENTS_PER_SEARCH = 6;
const EVENTS_PER_EMBEDDED_SHARD = 12;

const itemsPerHistory = (eventsEach: number, reserved = 0) => Math.floor((TEMPORAL_LIMITS.historyEvents - OVERHEAD_EVENTS - reserved) / eventsEach);

/**
 * The most activities a fan-out of one read pass over the pool or the subset may take in one
 * execution (the subset's materialize groups, the census's pages): past it, its pieces grow instead,
 * so that its events (6,000 at most) stay a constant share of a history, whatever the pool.
 */
export const MAX_PASS_ACTIVITIES = 1_000;

/** `embed.shardsPerExecution` at most: one embedPool execution's page stays under the history limit. */
export const MAX_SHARDS_PER_EXECUTION = itemsPerHistory(EVENTS_PER_EMBEDDED_SHARD);

/**
 * `retrieval.searchesPerExecution` at most: one selectSubset execution's searches stay under the
 * history limit, with room in its last execution for the subset's materialize groups.
 */
export const MAX_SEARCHES_PER_EXECUTION = itemsPerHistory(EVENTS_PER_SEARCH, MAX_PASS_ACTIVITIES * EVENTS_PER_SEARCH);

/** `embed.window` and `retrieval.window` at most: activities in flight at once in one execution. */
export const MAX_WINDOW = TEMPORAL_LIMITS.pendingActivities;

const thousands = (n: number) => n.toLocaleString('en-US');

/** The message of a setting's maximum: what it is, and which of Temporal's limits it keeps a run under. */
export function limitMessage(max: number, why: 'history' | 'pending'): string {
  return why === 'history'
    ? `at most ${thousands(max)}: one execution's history must stay under Temporal's ${thousands(TEMPORAL_LIMITS.historyEvents)} events (limit.historyCount.error)`
    : `at most ${thousands(max)}: Temporal lets one execution have ${thousands(TEMPORAL_LIMITS.pendingActivities)} activities pending (limit.numPendingActivities.error)`;
}

/**
 * Why a payload of `bytes` cannot travel, naming the setting that sizes it (`field`); undefined when
 * it fits. Half of Temporal's limit: the payload shares its request with the rest of the command.
 */
export function payloadIssue(field: string, what: string, bytes: number): string | undefined {
  const max = TEMPORAL_LIMITS.payloadBytes / 2;
  if (bytes <= max) return undefined;
  return `${field}: ${what} is ${thousands(bytes)} bytes, more than the ${thousands(max)} one payload may carry here (half of Temporal's 2 MB, limit.blobSize.error); lower ${field}`;
}

/**
 * The label names one census result lists, in bytes, before it counts further labels as
 * `otherLabels`: half of Temporal's payload limit, so that a pool labelled by caption still reports.
 */
export const CENSUS_LABEL_BYTES = TEMPORAL_LIMITS.payloadBytes / 2;

/**
 * A selected sample as the selection holds it in memory at its peak (lib/selection/finish.ts): the
 * policy's object, the map of its shard, its copy with the shard id and its manifest line. Measured
 * (node 20, a million samples, pool ids of 30 characters): 810 bytes without the manifest lines,
 * 1,122 with them; rounded to 1 KiB. Follow lib/selection's memory when it changes.
 */
export const SELECTED_SAMPLE_BYTES = 1024;

/** The share of a worker's heap that one selection may take: the rest serves reads, writes and other activities. */
const SELECTION_HEAP_SHARE = 0.5;

/**
 * Why the selection of these settings cannot be held by a worker whose heap is `heapBytes`, naming
 * the setting that sizes it: retrieval.budget, or for topk-per-target (the union of every train
 * target's k neighbours) retrieval.k, once the target is counted (`trainTargets`); `poolRows`
 * caps either where known. Undefined when it fits.
 */
export function selectionMemoryIssue(
  retrieval: Pick<RunConfig['retrieval'], 'policy' | 'budget' | 'k'>,
  heapBytes: number,
  known: { trainTargets?: number; poolRows?: number } = {},
): string | undefined {
  const byBudget = retrieval.policy !== 'topk-per-target';
  if (!byBudget && known.trainTargets === undefined) return undefined;
  const field = byBudget ? 'retrieval.budget' : 'retrieval.k';
  const selected = Math.min(byBudget ? retrieval.budget : known.trainTargets! * retrieval.k, known.poolRows ?? Infinity);
  const needs = selected * SELECTED_SAMPLE_BYTES;
  const max = Math.floor(heapBytes * SELECTION_HEAP_SHARE);
  if (needs <= max) return undefined;
  const mib = (bytes: number) => `${thousands(Math.ceil(bytes / 2 ** 20))} MiB`;
  return (
    `${field}: a selection of up to ${thousands(selected)} images needs about ${mib(needs)} of worker memory (${SELECTED_SAMPLE_BYTES} bytes each), ` +
    `more than the ${mib(max)} it may take (half of this worker's ${mib(heapBytes)} heap); lower ${field}, or give the sept-cpu workers more memory (node --max-old-space-size)`
  );
}
