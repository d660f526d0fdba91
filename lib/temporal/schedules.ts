import {
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptions,
  type ScheduleOverlapPolicy,
  type ScheduleSummary,
} from '@temporalio/client';
import { runSummary } from '../client/summary';
import type { RunConfig } from '../config/schema';
import { CPU_QUEUE } from './queues';

/** Overlap policies by their CLI names: what a due run does while the previous one still runs. */
export const OVERLAP_POLICIES = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
} as const satisfies Record<string, Exclude<ScheduleOverlapPolicy, undefined>>;
export type OverlapName = keyof typeof OVERLAP_POLICIES;

/** Bad schedule input (not the run configuration: that is a ConfigError). */
export class ScheduleInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleInputError';
  }
}

export interface SeptScheduleInput {
  scheduleId: string;
  /** The validated run configuration every scheduled run starts with. */
  config: RunConfig;
  /** An interval such as `24h`, `30m`, `1h30m`; exactly one of `every` and `cron`. */
  every?: string;
  /** A cron expression (5 to 7 fields, or `@daily`, `@hourly`, …), UTC unless it starts with `CRON_TZ=`. */
  cron?: string;
  /** Default `skip`: a due run is dropped while the previous one still runs. */
  overlap?: OverlapName;
  /** How late a missed run (server down) may still start; default the server's (1 year). */
  catchupWindow?: string;
  paused?: boolean;
  note?: string;
  /** Default `septPipeline`; tests schedule shorter workflows. */
  workflowType?: string;
  taskQueue?: string;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration such as `90s`, `30m`, `24h`, `7d` or `1h30m`. */
export function parseDuration(text: string, what: string): number {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(trimmed)) throw new ScheduleInputError(`${what}: "${text}" is not a duration such as 90s, 30m, 24h, 7d or 1h30m`);
  let ms = 0;
  for (const [, value, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) ms += Number(value) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (ms < 1_000) throw new ScheduleInputError(`${what}: "${text}" is shorter than a second`);
  return ms;
}

export function overlapPolicy(name: string): Exclude<ScheduleOverlapPolicy, undefined> {
  if (!(name in OVERLAP_POLICIES)) {
    throw new ScheduleInputError(`overlap: "${name}" is not one of ${Object.keys(OVERLAP_POLICIES).join(', ')}`);
  }
  return OVERLAP_POLICIES[name as OverlapName];
}

function checkCron(expr: string): string {
  const fields = expr.replace(/^(CRON_)?TZ=\S+\s+/, '').replace(/#.*$/, '').trim().split(/\s+/);
  const shorthand = fields.length === 1 && /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(fields[0]);
  const every = fields.length >= 2 && fields[0] === '@every';
  if (!shorthand && !every && (fields.length < 5 || fields.length > 7)) {
    throw new ScheduleInputError(`cron: "${expr}" needs 5 to 7 fields (minute hour day-of-month month day-of-week [year]) or @daily, @hourly, …`);
  }
  return expr.trim();
}

/**
 * The Temporal schedule for a SEPT run: start `septPipeline` on `sept-cpu` with the validated
 * config, workflow id = the run name (Temporal appends the scheduled time, so each run's id is
 * unique). Pure: validates the timing options and builds; nothing is sent.
 */
export function buildScheduleOptions(input: SeptScheduleInput): ScheduleOptions {
  if (!input.scheduleId.trim()) throw new ScheduleInputError('schedule id: empty');
  if ((input.every === undefined) === (input.cron === undefined)) {
    throw new ScheduleInputError('give exactly one of --every <duration> and --cron <expression>');
  }
  const spec = input.every !== undefined ? { intervals: [{ every: parseDuration(input.every, 'every') }] } : { cronExpressions: [checkCron(input.cron!)] };
  const { config } = input;
  return {
    scheduleId: input.scheduleId,
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: input.workflowType ?? 'septPipeline',
      taskQueue: input.taskQueue ?? CPU_QUEUE,
      workflowId: config.name,
      args: [config],
      staticSummary: runSummary(config),
    },
    policies: {
      overlap: overlapPolicy(input.overlap ?? 'skip'),
      ...(input.catchupWindow !== undefined ? { catchupWindow: parseDuration(input.catchupWindow, 'catchup window') } : {}),
    },
    // Kept as given: the server compiles cron expressions into calendars, which read worse.
    memo: { run: config.name, when: input.every !== undefined ? `every ${input.every.trim()}` : `cron ${input.cron!.trim()}` },
    state: { paused: input.paused ?? false, ...(input.note !== undefined ? { note: input.note } : {}) },
  };
}

/** Creates the schedule; an invalid cron expression that only the server detects is reported as ScheduleInputError. */
export async function createSchedule(client: Client, input: SeptScheduleInput): Promise<ScheduleHandle> {
  const options = buildScheduleOptions(input);
  try {
    return await client.schedule.create(options);
  } catch (err) {
    const message = (err as Error).message ?? '';
    if (input.cron !== undefined && /invalid|cron|spec/i.test(message) && !/already/i.test(message)) {
      throw new ScheduleInputError(`cron: "${input.cron}" refused by the server: ${message}`);
    }
    throw err;
  }
}

/** Every schedule of the namespace (listing is eventually consistent: a new one shows after a moment). */
export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const found: ScheduleSummary[] = [];
  for await (const schedule of client.schedule.list()) found.push(schedule);
  return found.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

export function describeSchedule(client: Client, scheduleId: string): Promise<ScheduleDescription> {
  return client.schedule.getHandle(scheduleId).describe();
}

export function pauseSchedule(client: Client, scheduleId: string, note?: string): Promise<void> {
  return client.schedule.getHandle(scheduleId).pause(note ?? 'paused with sept schedule pause');
}

export function unpauseSchedule(client: Client, scheduleId: string, note?: string): Promise<void> {
  return client.schedule.getHandle(scheduleId).unpause(note ?? 'unpaused with sept schedule unpause');
}

/**
 * Starts a run now. Without `overlap`, the schedule's own policy applies (the SDK's default would
 * be allow-all, which would start a second run beside a running one even under `skip`).
 */
export async function triggerSchedule(client: Client, scheduleId: string, overlap?: OverlapName): Promise<ScheduleOverlapPolicy> {
  const handle = client.schedule.getHandle(scheduleId);
  const policy = overlap ? overlapPolicy(overlap) : ((await handle.describe()).policies.overlap ?? 'SKIP');
  await handle.trigger(policy);
  return policy;
}

export function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  return client.schedule.getHandle(scheduleId).delete();
}
