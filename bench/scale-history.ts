// What a workflow's histories say about its cost: how many events each execution holds, how large
// its payloads are (each group of payloads one command or event carries, which is what the
// server's blob size limit applies to), and when each kind of activity ran. An execution's
// continued-as-new successors and its child workflows are executions of their own, each with a
// bounded history or not.
import type { Client } from '@temporalio/client';

/** A decoded history event, as `fetchHistory` returns it (the proto's fields; only those read here are named). */
export interface HistoryEvent {
  eventId?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null; input?: unknown } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown; attempt?: number | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown; result?: { payloads?: unknown[] | null } | null } | null;
  workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null; input?: unknown } | null;
  childWorkflowExecutionStartedEventAttributes?: { workflowExecution?: { workflowId?: string | null; runId?: string | null } | null } | null;
  [field: string]: unknown;
}

/** protobufjs hands int64 fields over as Long objects (or numbers, or strings). */
export function longNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value && typeof (value as { toNumber?: unknown }).toNumber === 'function') return (value as { toNumber(): number }).toNumber();
  return Number(value ?? 0);
}

export const eventTimeMs = (event: HistoryEvent): number => longNumber(event.eventTime?.seconds) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** A Payload: metadata (bytes by key) and data (bytes). */
function isPayload(v: unknown): v is { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null } {
  if (!v || typeof v !== 'object' || Array.isArray(v) || isBytes(v)) return false;
  const { metadata, data } = v as { metadata?: unknown; data?: unknown };
  const metadataOk = metadata !== undefined && metadata !== null && typeof metadata === 'object' && Object.values(metadata).every(isBytes);
  return metadataOk && (data === undefined || data === null || isBytes(data));
}

/** A payload's bytes: its data, and its metadata's keys and values (the few bytes of framing aside). */
export function payloadBytes(payload: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }): number {
  const metadata = Object.entries(payload.metadata ?? {}).reduce((n, [key, value]) => n + Buffer.byteLength(key) + value.length, 0);
  return metadata + (payload.data?.length ?? 0);
}

/**
 * The sizes of the payloads one event carries: a `payloads` list (an activity's input, a result, a
 * workflow's arguments) counts as one, its payloads summed, since the server limits it as one
 * blob; a payload on its own (a header field, a memo field, a failure's encoded attributes) counts alone.
 */
export function eventPayloadSizes(event: unknown): number[] {
  const sizes: number[] = [];
  const walk = (value: unknown): void => {
    if (!value || typeof value !== 'object' || isBytes(value)) return;
    if (Array.isArray(value)) return value.forEach(walk);
    if (isPayload(value)) {
      sizes.push(payloadBytes(value));
      return;
    }
    const { payloads } = value as { payloads?: unknown };
    if (Array.isArray(payloads) && payloads.every(isPayload)) {
      sizes.push(payloads.reduce((n: number, p) => n + payloadBytes(p), 0));
      for (const [key, inner] of Object.entries(value)) if (key !== 'payloads') walk(inner);
      return;
    }
    Object.values(value).forEach(walk);
  };
  walk(event);
  return sizes;
}

/** One execution's history in figures: its events and its largest group of payloads. */
export function historyFigures(events: HistoryEvent[]): { events: number; maxPayloadBytes: number } {
  return { events: events.length, maxPayloadBytes: events.reduce((max, e) => Math.max(max, ...eventPayloadSizes(e)), 0) };
}

/**
 * Every run of one activity type within an execution: from its first scheduling to its last
 * completion, so that attempts that timed out and the waits before their retries count (a started
 * event is written once, for the last attempt).
 */
export interface ActivitySpan {
  type: string;
  /** Activities scheduled, and the most attempts any of them took (retries mean timeouts or failures). */
  count: number;
  maxAttempt: number;
  startMs: number;
  endMs: number;
  /** The largest group of payloads in their inputs and results. */
  maxPayloadBytes: number;
  /** The completed activities' results, decoded from JSON (null where a payload is not JSON). */
  results: unknown[];
}

function decodedResult(result: { payloads?: unknown[] | null } | null | undefined): unknown {
  const [payload] = result?.payloads ?? [];
  if (!isPayload(payload) || !payload.data) return null;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/** When each activity type ran in these events, by type, in order of its first scheduling. */
export function activitySpans(events: HistoryEvent[]): Map<string, ActivitySpan> {
  const typeOf = new Map<number, string>();
  const spans = new Map<string, ActivitySpan>();
  const spanOf = (scheduledEventId: unknown) => spans.get(typeOf.get(longNumber(scheduledEventId)) ?? '');
  for (const event of events) {
    const { activityTaskScheduledEventAttributes: scheduled, activityTaskStartedEventAttributes: started, activityTaskCompletedEventAttributes: completed } = event;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? 'unknown';
      typeOf.set(longNumber(event.eventId), type);
      const span = spans.get(type) ?? { type, count: 0, maxAttempt: 0, startMs: eventTimeMs(event), endMs: -Infinity, maxPayloadBytes: 0, results: [] };
      span.count++;
      span.maxPayloadBytes = Math.max(span.maxPayloadBytes, ...eventPayloadSizes(event));
      spans.set(type, span);
    }
    const startedSpan = started && spanOf(started.scheduledEventId);
    if (startedSpan) {
      startedSpan.maxAttempt = Math.max(startedSpan.maxAttempt, started.attempt ?? 1);
    }
    const completedSpan = completed && spanOf(completed.scheduledEventId);
    if (completedSpan) {
      completedSpan.endMs = Math.max(completedSpan.endMs, eventTimeMs(event));
      completedSpan.maxPayloadBytes = Math.max(completedSpan.maxPayloadBytes, ...eventPayloadSizes(event));
      completedSpan.results.push(decodedResult(completed.result));
    }
  }
  return spans;
}

/** One execution of a workflow: one run of a continue-as-new chain, or a child's run. */
export interface Execution {
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
}

/** The executions a run leads to in these events: the run it continued as, and the children it started. */
export function nextExecutions(events: HistoryEvent[], workflowId: string): { workflowId: string; runId: string }[] {
  const out: { workflowId: string; runId: string }[] = [];
  for (const event of events) {
    const continued = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (continued) out.push({ workflowId, runId: continued });
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId && child.runId) out.push({ workflowId: child.workflowId, runId: child.runId });
  }
  return out;
}

/** Every execution from a workflow's first run on: its continued-as-new runs and its children's, recursively. */
export async function executionHistories(client: Client, workflowId: string, firstRunId: string): Promise<Execution[]> {
  const out: Execution[] = [];
  const pending = [{ workflowId, runId: firstRunId }];
  while (pending.length > 0) {
    const next = pending.shift()!;
    const history = await client.workflow.getHandle(next.workflowId, next.runId).fetchHistory();
    const events = (history.events ?? []) as HistoryEvent[];
    out.push({ ...next, events });
    pending.push(...nextExecutions(events, next.workflowId));
  }
  return out;
}

/** From the first event of any of these executions to the last: how long a workflow and all it led to ran. */
export function executionsSpan(executions: Execution[]): { startMs: number; endMs: number } {
  let startMs = Infinity;
  let endMs = -Infinity;
  for (const event of executions.flatMap((e) => e.events)) {
    startMs = Math.min(startMs, eventTimeMs(event));
    endMs = Math.max(endMs, eventTimeMs(event));
  }
  return { startMs, endMs };
}

/** activitySpans over several executions (a workflow that continues as new, its children), each type's spans joined. */
export function activitySpansOf(executions: Execution[]): Map<string, ActivitySpan> {
  const joined = new Map<string, ActivitySpan>();
  for (const execution of executions) {
    for (const [type, span] of activitySpans(execution.events)) {
      const prior = joined.get(type);
      joined.set(
        type,
        prior
          ? {
              type,
              count: prior.count + span.count,
              maxAttempt: Math.max(prior.maxAttempt, span.maxAttempt),
              startMs: Math.min(prior.startMs, span.startMs),
              endMs: Math.max(prior.endMs, span.endMs),
              maxPayloadBytes: Math.max(prior.maxPayloadBytes, span.maxPayloadBytes),
              results: [...prior.results, ...span.results],
            }
          : span,
      );
    }
  }
  return joined;
}
