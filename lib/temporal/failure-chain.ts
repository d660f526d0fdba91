// A Temporal failure read as a chain of levels, outermost first, down to its root cause: what the
// CLI and the client API print (lib/client/failure.ts) and what a workflow's own failure message
// says (workflows/failure-message.ts), so both tell the same story. Only @temporalio/common: safe in
// the workflow sandbox.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, ensureApplicationFailure, TemporalFailure, TimeoutFailure } from '@temporalio/common';

export interface FailureLevel {
  /** An ApplicationFailure's type; otherwise the failure's class (ActivityFailure, TimeoutFailure, CancelledFailure, …). */
  type: string;
  message: string;
  nonRetryable?: boolean;
  /** The failure of an activity: which one, and the attempt that failed where it is known. */
  activity?: { type: string; id?: string; attempt?: number; retryState?: string };
  /** The failure of a child workflow: which execution. */
  workflow?: { type: string; workflowId: string; runId?: string; retryState?: string };
}

/** Causes deeper than this are cut: a chain is a handful of levels, a cycle would be endless. */
const MAX_LEVELS = 32;

/** The detail an activity failure carries last: the attempt that failed (workers/failed-attempt.ts), which a workflow cannot read from its history. */
interface AttemptDetail {
  failedAttempt: number;
}

const isAttemptDetail = (d: unknown): d is AttemptDetail => typeof d === 'object' && d !== null && typeof (d as AttemptDetail).failedAttempt === 'number';

/**
 * What an activity throws, as the ApplicationFailure the SDK would make of it, with the attempt that
 * failed added as its last detail (the details before it are unchanged). Cancellations and other
 * Temporal failures pass as they are.
 */
export function withFailedAttempt(err: unknown, attempt: number): unknown {
  if (!(err instanceof Error) || (err instanceof TemporalFailure && !(err instanceof ApplicationFailure))) return err;
  const failure = ensureApplicationFailure(err);
  const details = [...(failure.details ?? []), { failedAttempt: attempt } satisfies AttemptDetail];
  const annotated = new ApplicationFailure(failure.message, failure.type, failure.nonRetryable, details, failure.cause, failure.nextRetryDelay, failure.category);
  annotated.stack = failure.stack;
  return annotated;
}

function level(err: Error): FailureLevel {
  if (err instanceof ActivityFailure) {
    return { type: 'ActivityFailure', message: err.message, activity: { type: err.activityType, id: err.activityId, retryState: err.retryState } };
  }
  if (err instanceof ChildWorkflowFailure) {
    const { workflowId, runId } = err.execution;
    return { type: 'ChildWorkflowFailure', message: err.message, workflow: { type: err.workflowType, workflowId: workflowId ?? '?', runId: runId ?? undefined, retryState: err.retryState } };
  }
  if (err instanceof ApplicationFailure) return { type: err.type ?? err.name, message: err.message, nonRetryable: err.nonRetryable ?? false };
  if (err instanceof TimeoutFailure) return { type: 'TimeoutFailure', message: err.message || `${err.timeoutType} timeout` };
  return { type: err.name, message: err.message };
}

/**
 * The levels of `err` and its causes, outermost first. An activity's level carries the attempt that
 * its failure (the next level) reports; where none does (a timeout, a worker of an earlier release),
 * the attempt is left for the caller to find in the history.
 */
export function failureChain(err: unknown): FailureLevel[] {
  const levels: FailureLevel[] = [];
  for (let e: unknown = err; e instanceof Error && levels.length < MAX_LEVELS; e = e.cause) {
    const l = level(e);
    if (l.activity && e.cause instanceof ApplicationFailure) l.activity.attempt = e.cause.details?.find(isAttemptDetail)?.failedAttempt;
    levels.push(l);
  }
  if (levels.length === 0) levels.push({ type: 'Error', message: String(err) });
  return levels;
}

/** Index of the innermost activity or child workflow level: where the root cause happened; -1 for a workflow's own failure. */
function innermostExecution(chain: readonly FailureLevel[]): number {
  for (let i = chain.length - 1; i >= 0; i--) if (chain[i].activity || chain[i].workflow) return i;
  return -1;
}

/** `activity runTrainer (attempt 2) of workflow trainModel run/pretrain`: where the root cause happened. */
function whereOf(chain: readonly FailureLevel[], at: number): string {
  const activity = chain[at]?.activity;
  let workflow: FailureLevel['workflow'];
  for (let i = at; i >= 0 && !workflow; i--) workflow = chain[i].workflow;
  const parts = [
    activity ? `activity ${activity.type}${activity.attempt ? ` (attempt ${activity.attempt})` : ''}` : undefined,
    workflow ? `workflow ${workflow.type} ${workflow.workflowId}` : undefined,
  ];
  return parts.filter((p) => p !== undefined).join(' of ');
}

/**
 * The root cause in one message: `<type> in <activity (attempt)> of <child workflow>: <message>`,
 * and the failures beneath it, if any, as `; caused by <type>: <message>`. A workflow's own failure
 * (a refusal, an empty subset) is `<type>: <message>`. The same text is a failed workflow's message
 * in the Temporal UI and the first line the CLI prints.
 */
export function rootCauseLine(chain: readonly FailureLevel[]): string {
  const at = innermostExecution(chain);
  const causes = chain.slice(at + 1);
  const [first, ...deeper] = causes.length > 0 ? causes : chain.slice(at);
  const where = at >= 0 ? ` in ${whereOf(chain, at)}` : '';
  return [`${first.type}${where}: ${first.message}`, ...deeper.map((c) => `${c.type}: ${c.message}`)].join('; caused by ');
}

/**
 * An activity's or a child workflow's failure, as the workflow that it fails fails with: its message
 * the root cause line, its kind, details and causes kept (the failure as received, which the SDK
 * sends on as it is), so code that walks `cause` to the root and the retry semantics are unchanged.
 */
export function retold<F extends ActivityFailure | ChildWorkflowFailure>(err: F): F {
  const message = rootCauseLine(failureChain(err));
  err.message = message;
  if (err.failure) err.failure = { ...err.failure, message };
  return err;
}
