import { type Client, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { workflowUiUrl } from '../temporal/connection';
import { type FailureLevel, failureChain, rootCauseLine } from '../temporal/failure-chain';

/** A run that ended without its result: its type where known, and its id (its latest execution is the one that ended). */
export interface FailedRun {
  workflowType?: string;
  workflowId: string;
}

/**
 * A run that failed, was cancelled, terminated or timed out, its message the failure chain down to
 * the root cause (explainRunFailure). Still a WorkflowFailedError, with the same `cause`.
 */
export class RunFailedError extends WorkflowFailedError {
  constructor(
    message: string,
    readonly run: FailedRun,
    /** The failure's levels, outermost first, attempts filled in from the histories where the failures carry none. */
    readonly chain: FailureLevel[],
    failed: WorkflowFailedError,
  ) {
    super(message, failed.cause, failed.retryState);
  }
}

/** Executions of a continue-as-new chain followed to the one where an activity failed. */
const MAX_RUNS_FOLLOWED = 20;

/**
 * The attempt of activity `activityId` that ended the last execution of a chain (ActivityTaskStarted
 * records the last attempt's start), read from the history: for failures that carry none (a timeout,
 * a worker of an earlier release). Undefined where it cannot be found.
 */
async function attemptInHistory(client: Client, workflowId: string, runId: string | undefined, activityId: string): Promise<number | undefined> {
  for (let followed = 0; followed < MAX_RUNS_FOLLOWED; followed++) {
    const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    const next = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (next) {
      runId = next;
      continue;
    }
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityId === activityId);
    if (!scheduled) return undefined;
    const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId));
    return started?.activityTaskStartedEventAttributes?.attempt ?? undefined;
  }
  return undefined;
}

/** Fills in the attempts of activity levels from the history of the execution each ran in: the nearest child above it, else the run. */
async function withAttemptsFromHistory(client: Client, run: FailedRun, chain: FailureLevel[]): Promise<void> {
  let execution: { workflowId: string; runId?: string } = run;
  for (const level of chain) {
    if (level.workflow) execution = level.workflow;
    const activity = level.activity;
    if (!activity || activity.attempt !== undefined || !activity.id) continue;
    activity.attempt = await attemptInHistory(client, execution.workflowId, execution.runId, activity.id).catch(() => undefined);
  }
}

const words = (state: string | undefined) => (state ? state.toLowerCase().replace(/_/g, ' ') : undefined);

/** Continuation lines of a message, indented under its first. */
const indented = (text: string, indent: string) => text.replace(/\n/g, `\n${indent}`);

/** One line per level: what failed where for an activity or a child, type and message (its first line) for the others. */
function levelLine(level: FailureLevel, namespace: string): string {
  if (level.workflow) {
    const { type, workflowId, retryState } = level.workflow;
    return `${level.type}: workflow ${type} ${workflowId} failed${retryState ? ` (retry state: ${words(retryState)})` : ''}, ${workflowUiUrl(namespace, workflowId)}`;
  }
  if (level.activity) {
    const { type, attempt, retryState } = level.activity;
    return `${level.type}: activity ${type} failed${attempt ? ` at attempt ${attempt}` : ''}${retryState ? ` (retry state: ${words(retryState)})` : ''}`;
  }
  const [first, ...more] = level.message.split('\n');
  return `${level.type}: ${first}${more.length > 0 ? ' …' : ''}${level.nonRetryable ? ' (non-retryable)' : ''}`;
}

function outcomeOf(failed: WorkflowFailedError): string {
  if (failed.cause instanceof CancelledFailure) return 'was cancelled';
  if (failed.cause instanceof TerminatedFailure) return 'was terminated';
  if (failed.cause instanceof TimeoutFailure) return 'timed out';
  return 'failed';
}

/**
 * A run's failure explained, as the CLI prints it: the root cause first (the same text as the
 * workflow's failure message in the Temporal UI, workflows/failure-message.ts), the run's Web UI
 * link, then each level of the chain, outermost first, with each child workflow's link and each
 * activity's attempt. For example:
 *
 *     septPipeline crash failed: TrainerFailed in activity runTrainer (attempt 2) of workflow trainModel crash/pretrain: trainer pretrain exited with code 1; last stderr lines:
 *       RuntimeError: CUDA out of memory
 *       Temporal UI: http://localhost:8233/namespaces/default/workflows/crash
 *       ChildWorkflowFailure: workflow trainModel crash/pretrain failed (retry state: non retryable failure), http://localhost:8233/namespaces/default/workflows/crash%2Fpretrain
 *       ActivityFailure: activity runTrainer failed at attempt 2 (retry state: maximum attempts reached)
 *       TrainerFailed: trainer pretrain exited with code 1; last stderr lines: …
 */
export async function explainRunFailure(client: Client, run: FailedRun, failed: WorkflowFailedError): Promise<RunFailedError> {
  const chain = failureChain(failed.cause ?? failed);
  await withAttemptsFromHistory(client, run, chain);
  const namespace = client.options.namespace;
  const lines = [
    `${run.workflowType ?? 'workflow'} ${run.workflowId} ${outcomeOf(failed)}: ${indented(rootCauseLine(chain), '  ')}`,
    `  Temporal UI: ${workflowUiUrl(namespace, run.workflowId)}`,
    ...(chain.length > 1 ? chain.map((level) => `  ${levelLine(level, namespace)}`) : []),
  ];
  return new RunFailedError(lines.join('\n'), run, chain, failed);
}

/** `result`, or the run's failure explained (a RunFailedError) when it ended without one. */
export async function explainingFailure<T>(client: Client, run: FailedRun, result: Promise<T>): Promise<T> {
  try {
    return await result;
  } catch (err) {
    if (err instanceof WorkflowFailedError && !(err instanceof RunFailedError)) throw await explainRunFailure(client, run, err);
    throw err;
  }
}
