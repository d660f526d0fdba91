import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure, Context, heartbeat, log } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import type { RunConfig } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { type LabeledSet, prepareLabeledSet } from '../lib/target/labeled-subset';
import { listShards } from '../lib/sources/list-shards';
import { CheckpointMirror, localCheckpoint } from '../lib/trainer/checkpoint-mirror';
import { latestCheckpoint } from '../lib/trainer/checkpoints';
import { referenceTrainerCommand } from '../lib/trainer/command';
import { type TrainerHeartbeat, withProgress } from '../lib/trainer/heartbeat';
import { runTrainerProcess } from '../lib/trainer/process';
import { TRAINER_EXIT, type TrainerStage } from '../lib/trainer/protocol';
import { stageDir, trainerStageConfig } from '../lib/trainer/stage-config';
import { recordTrainerProgress } from '../lib/telemetry/metrics';
import { failFastOnBadInput } from './failures';

export interface TrainerTask {
  config: RunConfig;
  stage: TrainerStage;
  /** Names this job's output folder under the run (`pretrain`, `evaluate-pretrained`, …). */
  job: string;
  /** Separates trainings of one run that differ in data (experiment arms). */
  variant?: string;
  train: SourceSpec[];
  test?: SourceSpec[];
  numClasses: number;
  initCheckpoint?: string;
  probes?: boolean;
}

export interface TrainerResult {
  stage: TrainerStage;
  job: string;
  metrics: Record<string, number | null>;
  /** `uri`: the artifact's copy in `trainer.checkpointUri`, when one is configured. */
  artifacts: { kind: string; path: string; uri?: string }[];
  lastCheckpoint?: { path: string; step: number };
  /** The checkpoint this attempt resumed from, if it did not start at step 0. */
  resumedFrom?: { path: string; step: number };
  attempt: number;
}

/** How often a running trainer's liveness reaches the server, whatever the trainer prints. */
const LIVENESS_MS = 5_000;
/** How long a trainer asked to stop may take to write its checkpoint before it is killed. */
const STOP_GRACE_MS = 120_000;

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp-${process.pid}`, JSON.stringify(value, null, 2));
  await rename(`${file}.tmp-${process.pid}`, file);
}

async function shardPaths(sources: SourceSpec[]): Promise<string[]> {
  return (await Promise.all(sources.map(listShards))).flat().map((s) => s.path);
}

/**
 * Runs one stage of a trainer process on `sept-gpu`. Heartbeats its progress and latest checkpoint;
 * a retried attempt resumes from the newest checkpoint; cancellation asks the trainer to checkpoint
 * and stop; exit code 2 fails without retries.
 */
export async function runTrainer(task: TrainerTask): Promise<TrainerResult> {
  const ctx = Context.current();
  const outputDir = stageDir(task.config, task.variant ?? 'main', task.job);
  const checkpointDir = join(outputDir, 'checkpoints');
  const trainerConfig = await failFastOnBadInput(async () =>
    trainerStageConfig(task.config, task.stage, outputDir, {
      trainShards: await shardPaths(task.train),
      testShards: task.test ? await shardPaths(task.test) : undefined,
      numClasses: task.numClasses,
      // Written on another GPU machine, it may be only in the checkpoint mirror.
      initCheckpoint: task.initCheckpoint && (await localCheckpoint(task.config, task.initCheckpoint)),
      probes: task.probes,
    }),
  );
  const mirror = CheckpointMirror.forStage(task.config, trainerConfig.keep_checkpoints as number, log);
  await mkdir(outputDir, { recursive: true });
  const configFile = join(outputDir, `${task.stage}.config.json`);
  await writeJsonAtomic(configFile, trainerConfig);

  // The directory is the truth (checkpoints are atomic); the heartbeat may lag it by a throttle interval.
  const fromHeartbeat = (ctx.info.heartbeatDetails as TrainerHeartbeat | undefined)?.checkpoint;
  const resumes = task.stage === 'pretrain' || task.stage === 'finetune';
  // Another machine's newer checkpoint, if the mirror has one, lands in the folder first.
  if (resumes && mirror) await failFastOnBadInput(() => mirror.restore(checkpointDir));
  const resume = resumes ? await latestCheckpoint(checkpointDir) : undefined;
  let beat: TrainerHeartbeat = {
    stage: task.stage,
    step: resume?.step ?? 0,
    checkpoint: resume?.path ?? fromHeartbeat,
    checkpointStep: resume?.step,
    batchSize: trainerConfig.batch_size as number | undefined,
  };
  log.info('trainer starting', { job: task.job, stage: task.stage, attempt: ctx.info.attempt, resume: resume?.path });

  const trainer = task.config.trainer.command ? { command: task.config.trainer.command, env: {} } : referenceTrainerCommand();
  // Every event of every attempt, timestamped: loss curves and speed for reports and benchmarks.
  const events = createWriteStream(join(outputDir, 'events.jsonl'), { flags: 'a' });
  const liveness = setInterval(() => heartbeat(beat), LIVENESS_MS);
  let outcome;
  try {
    heartbeat(beat);
    outcome = await runTrainerProcess({
      command: trainer.command,
      env: trainer.env,
      stage: task.stage,
      configFile,
      resume: resume?.path,
      signal: ctx.cancellationSignal,
      killGraceMs: STOP_GRACE_MS,
      onEvent: (event) => {
        events.write(`${JSON.stringify({ ...event, at: Date.now(), attempt: ctx.info.attempt })}\n`);
        if (event.event === 'progress') {
          recordTrainerProgress(event.step - beat.step, event.images_per_s);
          beat = withProgress(beat, event);
        }
        if (event.event === 'checkpoint') {
          beat = { ...beat, checkpoint: event.path, checkpointStep: event.step };
          mirror?.checkpointWritten(event);
        }
        if (event.event === 'artifact') mirror?.artifactWritten(event.path);
        // Progress comes every few steps: debug; checkpoints, metrics and artifacts: info.
        log[event.event === 'progress' ? 'debug' : 'info'](`trainer ${event.event}`, { job: task.job, ...event });
        heartbeat(beat);
      },
      onStderr: (line) => log.debug(line, { job: task.job, stream: 'trainer' }),
    });
  } finally {
    // Uploads in flight (a stop checkpoint, the final artifacts) end while the liveness heartbeat goes on.
    await mirror?.settle();
    clearInterval(liveness);
    await new Promise((resolve) => events.end(resolve));
  }

  const tail = outcome.stderrTail.slice(-10).join('\n');
  if (ctx.cancellationSignal.aborted) {
    const at = outcome.lastCheckpoint ?? (beat.checkpoint ? { path: beat.checkpoint, step: beat.checkpointStep ?? 0 } : undefined);
    if (ctx.cancellationDetails?.workerShutdown || (ctx.cancellationSignal.reason as Error | undefined)?.message === 'WORKER_SHUTDOWN') {
      // The worker is going away, not the run: a retryable failure (not a cancel) sends the next
      // attempt to another worker, which resumes from the checkpoint just written.
      throw ApplicationFailure.create({
        message: `trainer ${task.job} stopped because its worker is shutting down; checkpoint ${at ? `${at.path} (step ${at.step})` : '(none)'}; the next attempt resumes from it`,
        type: 'WorkerShutdown',
        nonRetryable: false,
        details: [{ checkpoint: at }],
        category: ApplicationFailureCategory.BENIGN,
      });
    }
    throw new CancelledFailure(`trainer ${task.job} stopped on cancellation at checkpoint ${at?.path ?? '(none)'}`);
  }
  if (outcome.exitCode === TRAINER_EXIT.INVALID_CONFIG) {
    throw ApplicationFailure.nonRetryable(`invalid trainer configuration for ${task.job}: ${outcome.stderrTail.at(-1) ?? ''}`, 'InvalidTrainerConfig', { stderr: tail });
  }
  if (outcome.exitCode !== TRAINER_EXIT.OK) {
    const how = outcome.signal ? `killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    throw ApplicationFailure.retryable(`trainer ${task.job} ${how}; last stderr lines:\n${tail}`, 'TrainerFailed', { stderr: tail });
  }
  // The next stage may run on another machine: everything must be in the mirror before this one succeeds.
  if (mirror) await failFastOnBadInput(() => mirror.flush());
  return {
    stage: task.stage,
    job: task.job,
    metrics: outcome.metrics,
    artifacts: mirror ? outcome.artifacts.map((a) => ({ ...a, uri: mirror.uriOf(a.path) })) : outcome.artifacts,
    lastCheckpoint: outcome.lastCheckpoint ?? resume,
    resumedFrom: resume,
    attempt: ctx.info.attempt,
  };
}

/** The target's labeled train set with `labelsPerClass` applied, as trainer-readable shards. */
export async function prepareLabeledTarget(config: RunConfig): Promise<LabeledSet> {
  return failFastOnBadInput(() => prepareLabeledSet(config));
}
