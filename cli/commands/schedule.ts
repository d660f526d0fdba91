import type { Client, ScheduleDescription, ScheduleSummary } from '@temporalio/client';
import { type Command, Option } from 'commander';
import { SEPT_PIPELINE } from '../../lib/client';
import { loadRunConfig } from '../../lib/config/load';
import { connectClient } from '../../lib/temporal/connection';
import {
  createSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  OVERLAP_POLICIES,
  type OverlapName,
  pauseSchedule,
  triggerSchedule,
  unpauseSchedule,
} from '../../lib/temporal/schedules';

export interface ScheduleCommandOptions {
  /** The workflow scheduled runs start; `septPipeline` (tests schedule shorter ones). */
  workflowType?: string;
  /** Where output lines go; console.log by default. */
  print?: (line: string) => void;
}

const OVERLAP_NAMES = Object.keys(OVERLAP_POLICIES) as OverlapName[];

function overlapOption(): Option {
  return new Option('--overlap <policy>', 'what a due run does while the previous one still runs').choices(OVERLAP_NAMES);
}

/** `86400000` → `24h`, `5400000` → `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 86_400_000 && ms % (365 * 86_400_000) !== 0) return `${ms / 86_400_000}d`;
  if (ms % (365 * 86_400_000) === 0 && ms > 0) return `${ms / (365 * 86_400_000)}y`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, secs] of [['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= secs) {
      parts.push(`${Math.floor(rest / secs)}${unit}`);
      rest %= secs;
    }
  }
  return parts.join('') || '0s';
}

/** How far off a time is, as a person says it: `45s`, `12m`, `3h05m`, `33d`. */
function roughly(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 2 * 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.round(s / 86_400)}d`;
}

/** `2025-11-28 18:00:00 UTC (in 12m)` */
export function formatTime(date: Date, now = Date.now()): string {
  const text = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const delta = date.getTime() - now;
  return `${text} (${delta >= 0 ? `in ${roughly(delta)}` : `${roughly(delta)} ago`})`;
}

const policyName = (policy: string | undefined) =>
  OVERLAP_NAMES.find((name) => OVERLAP_POLICIES[name] === policy) ?? (policy ?? 'skip').toLowerCase();

/** `every 24h` or `cron 0 3 * * *`, as given at create (kept in the memo; the server keeps cron compiled to calendars). */
function timing(s: Pick<ScheduleSummary, 'memo' | 'spec'>): string {
  const given = s.memo?.when;
  if (typeof given === 'string') return given;
  const interval = s.spec?.intervals?.[0];
  if (interval) return `every ${formatDuration(interval.every)}`;
  return s.spec?.calendars?.length ? 'calendar' : '?';
}

function stateText(state: { paused: boolean; note?: string }): string {
  return `${state.paused ? 'PAUSED' : 'active'}${state.note ? ` (note: ${state.note})` : ''}`;
}

export function formatScheduleList(schedules: ScheduleSummary[], now = Date.now()): string {
  if (!schedules.length) return 'no schedules';
  const rows = schedules.map((s) => [
    s.scheduleId,
    s.state.paused ? 'paused' : 'active',
    timing(s),
    s.state.paused ? '-' : s.info.nextActionTimes[0] ? formatTime(s.info.nextActionTimes[0], now) : '-',
    s.info.recentActions.at(-1) ? formatTime(s.info.recentActions.at(-1)!.takenAt, now) : '-',
    s.state.note ?? '',
  ]);
  const header = ['schedule', 'state', 'when', 'next run', 'last run', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Status of a workflow a schedule started: COMPLETED, RUNNING, … (`?` when it cannot be described). */
export type RunStatuses = Record<string, string>;

export function formatScheduleDescription(d: ScheduleDescription, statuses: RunStatuses = {}, now = Date.now()): string {
  const action = d.action;
  const config = action.args?.[0] as { name?: string } | undefined;
  const lines = [
    `schedule ${d.scheduleId}: ${stateText(d.state)}`,
    `  starts       ${action.workflowType} on ${action.taskQueue}, workflow id ${action.workflowId ?? config?.name}-<scheduled time>`,
    ...(action.staticSummary ? [`  run          ${action.staticSummary}`] : []),
    `  when         ${timing(d)}${d.spec.timezone ? ` (${d.spec.timezone})` : ' (UTC)'}`,
    `  overlap      ${policyName(d.policies.overlap)}; catchup window ${formatDuration(d.policies.catchupWindow)}${d.policies.pauseOnFailure ? '; pauses on failure' : ''}`,
    `  actions      ${d.info.numActionsTaken} taken, ${d.info.numActionsSkippedOverlap} skipped for overlap, ${d.info.numActionsMissedCatchupWindow} missed the catchup window`,
    `  next runs    ${d.state.paused ? '(paused)' : d.info.nextActionTimes.slice(0, 3).map((t) => formatTime(t, now)).join('\n               ') || '-'}`,
  ];
  if (d.info.runningActions.length) {
    lines.push(`  running      ${d.info.runningActions.map((a) => a.workflow.workflowId).join('\n               ')}`);
  }
  if (d.info.recentActions.length) {
    lines.push('  recent runs');
    for (const a of d.info.recentActions.slice(-10).reverse()) {
      const id = a.action.workflow.workflowId;
      const manual = Math.abs(a.scheduledAt.getTime() - a.takenAt.getTime()) < 1000 ? '' : `, scheduled ${formatTime(a.scheduledAt, now)}`;
      lines.push(`    ${formatTime(a.takenAt, now)}  ${id}  ${statuses[id] ?? ''}${manual}`.trimEnd());
    }
  } else {
    lines.push('  recent runs  none yet');
  }
  lines.push(`  created      ${formatTime(d.info.createdAt, now)}${d.info.lastUpdatedAt ? `, updated ${formatTime(d.info.lastUpdatedAt, now)}` : ''}`);
  return lines.join('\n');
}

async function runStatuses(client: Client, d: ScheduleDescription): Promise<RunStatuses> {
  const entries = await Promise.all(
    d.info.recentActions.slice(-10).map(async (a) => {
      const { workflowId, firstExecutionRunId } = a.action.workflow;
      const status = await client.workflow
        .getHandle(workflowId, firstExecutionRunId)
        .describe()
        .then((info) => info.status.name, () => '?');
      return [workflowId, status] as const;
    }),
  );
  return Object.fromEntries(entries);
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

export function registerSchedule(program: Command, options: ScheduleCommandOptions = {}): void {
  const print = options.print ?? ((line: string) => console.log(line));
  const workflowType = options.workflowType ?? SEPT_PIPELINE;
  const schedule = program
    .command('schedule')
    .description('run SEPT on a schedule (Temporal Schedules): every <duration> or by cron, with an overlap policy');

  schedule
    .command('create <id>')
    .description(`create a schedule that starts ${workflowType} on a validated run configuration`)
    .requiredOption('-c, --config <file>', 'run configuration (.json, .yaml); each run gets workflow id <name>-<scheduled time>')
    .option('--every <duration>', 'interval such as 24h, 30m, 1h30m, 7d')
    .option('--cron <expr>', 'cron expression such as "0 3 * * *" (UTC; prefix CRON_TZ=<zone> for another)')
    .addOption(overlapOption().default('skip'))
    .option('--catchup-window <duration>', 'how late a run missed while the server was down may still start (default 1 year)')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'a note shown with the schedule (why it exists, why it is paused)')
    .action(async (id: string, opts: { config: string; every?: string; cron?: string; overlap: OverlapName; catchupWindow?: string; paused?: boolean; note?: string }) => {
      if ((opts.every === undefined) === (opts.cron === undefined)) throw new Error('schedule create: give exactly one of --every <duration> and --cron <expr>');
      // Refuse an invalid run configuration before anything is created.
      const config = await loadRunConfig(opts.config);
      await withClient(async (client) => {
        await createSchedule(client, {
          scheduleId: id,
          config,
          every: opts.every,
          cron: opts.cron,
          overlap: opts.overlap,
          catchupWindow: opts.catchupWindow,
          paused: opts.paused,
          note: opts.note,
          workflowType,
        });
        print(`created schedule ${id}`);
        print(formatScheduleDescription(await describeSchedule(client, id)));
      });
    });

  schedule
    .command('list')
    .description('every schedule: state, timing, next and last run, note')
    .action(() => withClient(async (client) => print(formatScheduleList(await listSchedules(client)))));

  schedule
    .command('describe <id>')
    .description('a schedule in full: what it starts, when, its policy, next runs and recent runs with their status')
    .action((id: string) =>
      withClient(async (client) => {
        const d = await describeSchedule(client, id);
        print(formatScheduleDescription(d, await runStatuses(client, d)));
      }),
    );

  schedule
    .command('pause <id>')
    .description('stop starting runs (runs already started continue)')
    .option('--note <text>', 'why it is paused')
    .action((id: string, opts: { note?: string }) =>
      withClient(async (client) => {
        await pauseSchedule(client, id, opts.note);
        print(`paused schedule ${id}${opts.note ? ` (note: ${opts.note})` : ''}`);
      }),
    );

  schedule
    .command('unpause <id>')
    .description('start runs again at the next scheduled time')
    .option('--note <text>', 'a new note')
    .action((id: string, opts: { note?: string }) =>
      withClient(async (client) => {
        await unpauseSchedule(client, id, opts.note);
        const next = (await describeSchedule(client, id)).info.nextActionTimes[0];
        print(`unpaused schedule ${id}${next ? `; next run ${formatTime(next)}` : ''}`);
      }),
    );

  schedule
    .command('trigger <id>')
    .description("start a run now; the schedule's overlap policy applies unless --overlap is given")
    .addOption(overlapOption())
    .action((id: string, opts: { overlap?: OverlapName }) =>
      withClient(async (client) => {
        const policy = await triggerSchedule(client, id, opts.overlap);
        print(`triggered schedule ${id} (overlap ${policyName(policy)}); see: sept schedule describe ${id}`);
      }),
    );

  schedule
    .command('delete <id>')
    .description('delete a schedule (runs it started are not affected)')
    .action((id: string) =>
      withClient(async (client) => {
        await deleteSchedule(client, id);
        print(`deleted schedule ${id}`);
      }),
    );
}
