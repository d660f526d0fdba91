import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { explainingFailure } from '../lib/client/failure';
import { count, percent, seconds } from '../lib/format';
import { PIPELINE_STAGES, type PipelineStage } from '../lib/pipeline/stages';
import type { TrainerHeartbeat } from '../lib/trainer/heartbeat';
import type { EmbedProgress } from '../workflows/embed-progress';
import type { PipelineProgress, SeptRunResult } from '../workflows/pipeline-types';
import { embedProgressQuery, pipelineProgressQuery } from '../workflows/queries';
import type { septPipeline } from '../workflows/sept-pipeline';
import { refreshUntilSettled } from './follow';
import { formatEmbedProgress, formatTrainerLine, progressBar } from './progress';

/** What is known live of a running stage beyond the pipeline's progress: its child's embed progress, or its trainer's heartbeat. */
export interface StageLive {
  embed?: EmbedProgress;
  trainer?: TrainerHeartbeat;
}

/** What a running stage is doing while it has no live figures (yet, or between two trainer jobs). */
const RUNNING: Record<PipelineStage, string> = {
  encoder: 'running',
  embed: 'running',
  select: 'searching and selecting',
  pretrain: 'running',
  finetune: 'running',
  report: 'writing the report',
};

/** The running trainer's heartbeat of a child workflow: live step, loss and speed. */
async function trainerBeat(client: Client, workflowId: string): Promise<TrainerHeartbeat | undefined> {
  const info = await client.workflow.getHandle(workflowId).describe();
  const payload = info.raw.pendingActivities?.find((a) => a.activityType?.name === 'runTrainer')?.heartbeatDetails?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload<TrainerHeartbeat>(payload) : undefined;
}

/** The live figures of the running stage: its child workflow's progress query, or its trainer's heartbeat. */
async function liveOf(client: Client, p: PipelineProgress): Promise<StageLive> {
  const stage = p.stage === 'done' ? undefined : p.stage;
  const workflowId = stage && p.stages[stage].status === 'running' ? p.stages[stage].workflowId : undefined;
  if (!stage || !workflowId) return {};
  try {
    if (stage === 'embed') return { embed: await client.workflow.getHandle(workflowId).query(embedProgressQuery) };
    if (stage === 'encoder' || stage === 'pretrain' || stage === 'finetune') return { trainer: await trainerBeat(client, workflowId) };
  } catch {
    // The child may not have started yet, or just finished: no figures this time.
  }
  return {};
}

/** The figures of the running stage's line, where there are any; `live` is the current stage's. */
function liveFigures(stage: PipelineStage, p: PipelineProgress, live: StageLive): string | undefined {
  if (p.stage !== stage) return undefined;
  if (stage === 'embed' && live.embed) return formatEmbedProgress(live.embed);
  const beat = live.trainer;
  if (beat?.totalSteps) return formatTrainerLine({ ...beat, totalSteps: beat.totalSteps });
  return undefined;
}

/**
 * One stage's line; only what is known: a running stage's live figures, or what it does and, with
 * `now`, for how long; a finished stage's outcome.
 */
export function stageLine(stage: PipelineStage, p: PipelineProgress, live: StageLive, now?: number): string {
  const t = p.stages[stage];
  const name = stage.padEnd(9);
  switch (t.status) {
    case 'running': {
      const elapsed = now === undefined ? '' : `, ${seconds((now - (t.startedAt ?? now)) / 1000)}`;
      return `${name}${liveFigures(stage, p, live) ?? `${RUNNING[stage]}${elapsed}`}`;
    }
    case 'done':
    case 'reused':
      return `${name}${progressBar(1)}  ${t.status === 'reused' ? 'reused from an earlier run' : 'done'} in ${seconds(t.seconds ?? 0)}`;
    case 'skipped':
      return `${name}skipped (encoder.model is set)`;
    case 'pending':
      return `${name}pending`;
  }
}

/** One line per stage: the live figures of the running one, the outcome of the others. */
export async function renderPipeline(client: Client, p: PipelineProgress): Promise<string[]> {
  const live = await liveOf(client, p);
  const now = Date.now();
  return PIPELINE_STAGES.map((stage) => stageLine(stage, p, live, now));
}

/**
 * The lines to print off a terminal, where nothing printed can be redrawn, so each must stay true:
 * a stage's line when it starts, and its outcome once when it ends; in between only its live
 * figures as they change, at most every `everyMs`. Lines carry no clock, so an unchanged stage
 * prints nothing.
 */
export class PipelineLog {
  private readonly printed = new Map<PipelineStage, { line: string; at: number }>();

  constructor(private readonly everyMs = 30_000) {}

  /** The new lines for a progress snapshot taken at `now`, with the running stage's live figures. */
  next(p: PipelineProgress, live: StageLive, now: number): string[] {
    const lines: string[] = [];
    for (const stage of PIPELINE_STAGES) {
      const status = p.stages[stage].status;
      if (status === 'pending') continue;
      const line = stageLine(stage, p, live);
      const last = this.printed.get(stage);
      if (last?.line === line) continue;
      // Once a running stage is announced, only live figures, and not more often than every `everyMs`.
      if (status === 'running' && last && (!liveFigures(stage, p, live) || now - last.at < this.everyMs)) continue;
      lines.push(line);
      this.printed.set(stage, { line, at: now });
    }
    return lines;
  }
}

/**
 * Follows a septPipeline run until it ends: on a terminal, one live line per stage redrawn every
 * second; otherwise the lines of a PipelineLog. Returns the run's result, or throws its failure
 * explained down to the root cause (lib/client/failure.ts).
 */
export async function followPipeline(client: Client, handle: WorkflowHandle<typeof septPipeline>, opts: { interrupted?: Promise<never> } = {}): Promise<SeptRunResult> {
  const tty = Boolean(process.stdout.isTTY);
  const log = new PipelineLog();
  let drawn = 0;
  const refresh = async () => {
    const progress = await handle.query(pipelineProgressQuery).catch(() => undefined);
    if (!progress) return;
    if (tty) {
      const lines = await renderPipeline(client, progress);
      process.stdout.write(`${drawn ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
      drawn = lines.length;
      return;
    }
    for (const line of log.next(progress, await liveOf(client, progress), Date.now())) console.log(line);
  };
  const result = refreshUntilSettled(handle.result(), tty ? 1000 : 2000, refresh, opts.interrupted);
  return explainingFailure(client, { workflowType: 'septPipeline', workflowId: handle.workflowId }, result);
}

/** The result table printed at the end of a run. */
export function formatRunResult(r: SeptRunResult): string {
  const s = r.selection.stats;
  const perSource = Object.entries(s.perSource)
    .map(([k, v]) => `${k} ${v} (${percent(v / Math.max(1, s.size))})`)
    .join(', ');
  const rows: [string, string][] = [
    ['encoder', `${r.encoder.trainedInRun ? 'trained in this run (stage 0)' : 'configured'}: ${r.encoder.model}`],
    ['pool', `${count(r.embed.samplesEmbedded)} images embedded, ${r.embed.quarantined} quarantined`],
    ['subset', `${count(s.size)} images (${percent(s.size / Math.max(1, r.selection.plan.poolRows))} of the pool): ${perSource}`],
    ['leakage guard', `${s.duplicatesRemoved} near-duplicates of target test${r.metrics.val_top1 !== undefined ? ' and validation' : ''} images removed`],
    ['kNN top-1', `${percent(r.metrics.knn_top1)} (frozen pre-trained encoder)`],
    ['linear probe top-1', `${percent(r.metrics.linear_probe_top1)} (frozen pre-trained encoder)`],
    ['top-1', `${percent(r.metrics.top1)} (fine-tuned, target test set)`],
    ...(r.metrics.val_top1 !== undefined ? [['validation top-1', `${percent(r.metrics.val_top1)} (fine-tuned, validation split)`] as [string, string]] : []),
    ...PIPELINE_STAGES.map((stage): [string, string] => [`${stage} stage`, `${r.progress.stages[stage].status}${r.progress.stages[stage].seconds !== undefined ? `, ${seconds(r.progress.stages[stage].seconds)}` : ''}`]),
    ['report', r.report.markdown],
    ['report (HTML)', r.report.html],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
