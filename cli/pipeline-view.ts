import { type Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { PIPELINE_STAGES, type PipelineStage } from '../lib/report/types';
import type { TrainerHeartbeat } from '../lib/trainer/heartbeat';
import type { EmbedProgress } from '../workflows/embed-progress';
import type { PipelineProgress, SeptRunResult } from '../workflows/pipeline-types';
import { refreshUntilSettled } from './follow';
import { formatEmbedProgress, formatTrainerLine, progressBar } from './progress';

/** The running trainer's heartbeat of a child workflow: live step, loss and speed. */
async function trainerBeat(client: Client, workflowId: string): Promise<TrainerHeartbeat | undefined> {
  const info = await client.workflow.getHandle(workflowId).describe();
  const payload = info.raw.pendingActivities?.find((a) => a.activityType?.name === 'runTrainer')?.heartbeatDetails?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload<TrainerHeartbeat>(payload) : undefined;
}

/** The live line of the running stage, from its child workflow's query or its trainer's heartbeat. */
async function runningLine(client: Client, stage: PipelineStage, workflowId: string | undefined, elapsed: number): Promise<string> {
  const waiting = `${progressBar(0)}  ${elapsed.toFixed(0)} s`;
  if (!workflowId) return `${progressBar(0)}  writing`;
  try {
    if (stage === 'embed') {
      const p = await client.workflow.getHandle(workflowId).query<EmbedProgress>('progress');
      return formatEmbedProgress(p);
    }
    if (stage === 'encoder' || stage === 'pretrain' || stage === 'finetune') {
      const beat = await trainerBeat(client, workflowId);
      return beat?.totalSteps ? formatTrainerLine({ ...beat, totalSteps: beat.totalSteps }) : `${waiting}  preparing`;
    }
  } catch {
    // The child may not have started yet, or just finished: the next refresh shows it.
  }
  return `${waiting}  searching and selecting`;
}

/** One line per stage: a bar for the running one, the outcome for the others. */
export async function renderPipeline(client: Client, p: PipelineProgress): Promise<string[]> {
  const lines: string[] = [];
  for (const stage of PIPELINE_STAGES) {
    const t = p.stages[stage];
    const name = stage.padEnd(9);
    if (t.status === 'running') {
      lines.push(`${name}${await runningLine(client, stage, t.workflowId, (Date.now() - (t.startedAt ?? Date.now())) / 1000)}`);
    } else if (t.status === 'done' || t.status === 'reused') {
      lines.push(`${name}${progressBar(1)}  ${t.status === 'reused' ? 'reused from an earlier run' : 'done'} in ${(t.seconds ?? 0).toFixed(0)} s`);
    } else {
      lines.push(`${name}${t.status === 'skipped' ? 'skipped (encoder.model is set)' : 'pending'}`);
    }
  }
  return lines;
}

/**
 * Follows a septPipeline run until it ends: on a terminal, one live line per stage redrawn every
 * second; otherwise a line whenever a stage changes and every 30 s. Returns the run's result.
 */
export async function followPipeline(client: Client, handle: WorkflowHandle, opts: { interrupted?: Promise<never> } = {}): Promise<SeptRunResult> {
  const tty = Boolean(process.stdout.isTTY);
  let drawn = 0;
  let lastPrinted = '';
  let lastPrintedAt = 0;
  const refresh = async () => {
    const progress = await handle.query<PipelineProgress>('progress').catch(() => undefined);
    if (!progress) return;
    const lines = await renderPipeline(client, progress);
    if (tty) {
      process.stdout.write(`${drawn ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
      drawn = lines.length;
      return;
    }
    const current = lines.find((l) => l.startsWith(progress.stage)) ?? '';
    const key = `${progress.stage}:${PIPELINE_STAGES.map((s) => progress.stages[s].status).join()}`;
    if (key !== lastPrinted || Date.now() - lastPrintedAt > 30_000) {
      console.log(current);
      lastPrinted = key;
      lastPrintedAt = Date.now();
    }
  };
  const result = refreshUntilSettled(handle.result() as Promise<SeptRunResult>, tty ? 1000 : 2000, refresh, opts.interrupted);
  return explainFailure(handle.workflowId, result);
}

/** A failed run's error names the run and the innermost cause (a child's activity's message), not "Workflow execution failed". */
export async function explainFailure<T>(workflowId: string, result: Promise<T>): Promise<T> {
  try {
    return await result;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    let cause: Error = err;
    while (cause.cause instanceof Error) cause = cause.cause;
    throw new Error(`run ${workflowId} failed: ${cause.message}`);
  }
}

const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : 'n/a');

/** The result table printed at the end of a run. */
export function formatRunResult(r: SeptRunResult): string {
  const s = r.selection.stats;
  const perSource = Object.entries(s.perSource)
    .map(([k, v]) => `${k} ${v} (${((100 * v) / Math.max(1, s.size)).toFixed(1)}%)`)
    .join(', ');
  const rows: [string, string][] = [
    ['encoder', `${r.encoder.trainedInRun ? 'trained in this run (stage 0)' : 'configured'}: ${r.encoder.model}`],
    ['pool', `${r.embed.samplesEmbedded.toLocaleString('en-US')} images embedded, ${r.embed.quarantined} quarantined`],
    ['subset', `${s.size.toLocaleString('en-US')} images (${((100 * s.size) / Math.max(1, r.selection.plan.poolRows)).toFixed(1)}% of the pool): ${perSource}`],
    ['leakage guard', `${s.duplicatesRemoved} near-duplicates of target test images removed`],
    ['kNN top-1', `${pct(r.metrics.knn_top1)} (frozen pre-trained encoder)`],
    ['linear probe top-1', `${pct(r.metrics.linear_probe_top1)} (frozen pre-trained encoder)`],
    ['top-1', `${pct(r.metrics.top1)} (fine-tuned, target test set)`],
    ...PIPELINE_STAGES.map((stage): [string, string] => [`${stage} stage`, `${r.progress.stages[stage].status}${r.progress.stages[stage].seconds !== undefined ? `, ${r.progress.stages[stage].seconds!.toFixed(0)} s` : ''}`]),
    ['report', r.report.markdown],
    ['report (HTML)', r.report.html],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
