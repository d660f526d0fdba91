import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { isDeepStrictEqual } from 'node:util';
import { msToNumber } from '@temporalio/common/lib/time';
import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { writeFileAtomic } from '../files/atomic-write';
import { RunLayout, type TrainerJobFiles } from '../run-layout';
import { writeLocation } from '../storage/location';
import { prepareLabeledSet } from '../target/labeled-subset';
import { recordTrainerProgress } from '../telemetry/metrics';
import { CheckpointMirror, localCheckpoint, type MirrorLog } from './checkpoint-mirror';
import { type Checkpoint, latestCheckpoint } from './checkpoints';
import { type TrainerCommand, trainerCommand } from './command';
import { dataParallelCommand, gangLaunch, trainerProcesses } from './data-parallel';
import { throughForkserver } from './forkserver';
import type { GangPlace } from './gang';
import { type TrainerHeartbeat, withProgress } from './heartbeat';
import { trainerJobError, trainerStalled, type TrainerStop } from './job-error';
import { runTrainerProcess, type TrainerOutcome } from './process';
import { RESUMABLE_STAGES, type TrainerStage } from './protocol';
import { type StageData, trainerStageConfig } from './stage-config';
import { StagedInputs } from './staged-inputs';

/**
 * One trainer job of a run: a stage of the trainer process on its data, in its own folder under the
 * run. Prepared (inputs, configuration, folder, resume point), run (events, mirror, heartbeat),
 * finished (result, or a TrainerJobError): the training activity adds Temporal around these three.
 *
 * A run whose outputDir is a bucket trains in the job's scratch copy on this worker
 * (RunLayout.localTrainerJob): its input shards and initial checkpoint are staged into the worker's
 * cache (lib/trainer/staged-inputs.ts); its checkpoints, artifacts and events go up to the run's
 * prefix through the checkpoint mirror as they are written; an attempt on another machine resumes
 * from there; and a job that succeeds leaves nothing on the worker. Its result names the objects.
 */

export interface TrainerTask {
  config: RunConfig;
  stage: TrainerStage;
  /** Names this job's output folder under the run (`pretrain`, `evaluate-pretrained`, …). */
  job: string;
  /** Separates trainings of one run that differ in data (experiment arms). */
  variant?: string;
  train: SourceSpec[];
  /** What evaluate measures on; the run's `target.test` stands for its labeled test set. */
  test?: SourceSpec[];
  numClasses: number;
  initCheckpoint?: string;
  probes?: boolean;
  /** This node's place in a round of a gang (workflows/train-gang.ts): pre-training on several workers. */
  gang?: GangPlace;
}

export interface TrainerResult {
  stage: TrainerStage;
  job: string;
  metrics: Record<string, number | null>;
  /** `path`: where the artifact is kept (in a bucket run, its object); `uri`: its copy in the checkpoint mirror, when there is one. */
  artifacts: { kind: string; path: string; uri?: string }[];
  lastCheckpoint?: Checkpoint;
  /** The checkpoint this attempt resumed from, if it did not start at step 0. */
  resumedFrom?: Checkpoint;
  attempt: number;
}

export interface TrainerJobLog extends MirrorLog {
  debug(message: string, meta?: Record<string, unknown>): void;
}

/** A job ready to start: its configuration file in its folder, its mirror, where it resumes. */
export interface TrainerJob {
  task: TrainerTask;
  /** What the run's trainer name runs on this worker: under torchrun when the job trains in several processes. */
  trainer: TrainerCommand;
  /** Where it runs on this machine: the trainer's output_dir, its checkpoints, its events. */
  files: TrainerJobFiles;
  /** Where a file of `files` is kept: itself, or in a bucket run its object. */
  keptAt(path: string): string;
  /** In a bucket run: `files` are a scratch copy, removed once the job succeeded. */
  scratch: boolean;
  /** The trainer's input files, staged on this machine until its process ends. */
  inputs: StagedInputs;
  configFile: string;
  /** Images per step, for the heartbeat's ETA. */
  batchSize?: number;
  mirror?: CheckpointMirror;
  /** The newest checkpoint of earlier attempts (pretrain and finetune only). */
  resume?: Checkpoint;
  log: TrainerJobLog;
}

/** One attempt at a job, as its activity runs it. */
export interface TrainerAttempt {
  attempt: number;
  /** Aborting asks the trainer to checkpoint and stop. */
  signal: AbortSignal;
  /** The heartbeat the attempt starts from (startingHeartbeat). */
  beat: TrainerHeartbeat;
  /** After every trainer event, with the heartbeat it leads to. */
  onBeat(beat: TrainerHeartbeat): void;
}

/** What an attempt's trainer process left. */
export interface TrainerRun {
  attempt: number;
  outcome: TrainerOutcome;
  /** The last heartbeat: the newest checkpoint the trainer reported, even when its outcome has none. */
  beat: TrainerHeartbeat;
  /** Set when the worker stopped a trainer that reported nothing for this long (trainer.progressTimeout). */
  stalledMs?: number;
}

/** trainer.progressTimeout of configurations resolved before it existed (runs still in flight). */
const PROGRESS_TIMEOUT = '30m';

/** How long a trainer asked to stop may take to write its checkpoint before it is killed. */
const STOP_GRACE_MS = 120_000;
/** How long torchrun waits for its ranks to stop before it kills them: within the grace, so that it, not the worker, ends them. */
const RANKS_STOP_S = (STOP_GRACE_MS * 0.75) / 1000;

/**
 * A job's labeled data as the trainer reads it: WebDataset shards whose labels are the run's class
 * indices. The run's `target.test` is measured as its labeled test set, whatever layout the target
 * is kept in (lib/target/labeled-subset.ts, written once per run and target content); the labeled train set's size
 * bounds fine-tuning's default batch.
 */
async function labeledData(task: TrainerTask, inputs: StagedInputs): Promise<Pick<StageData, 'testShards' | 'testShardIds' | 'trainSamples'>> {
  if (task.stage !== 'finetune' && !task.test) return {};
  const labeled = await prepareLabeledSet(task.config);
  const test = task.test?.map((spec) => (isDeepStrictEqual(spec, task.config.target.test) ? labeled.test.source : spec));
  const shards = test && (await inputs.shards(test));
  return { testShards: shards?.paths, testShardIds: shards?.ids, trainSamples: labeled.samples };
}

/**
 * Stages the job's inputs, writes its trainer configuration into its folder and finds where it
 * resumes. The folder is the truth (checkpoints are atomic; a heartbeat may lag it by a throttle
 * interval); another machine's newer checkpoint, if the mirror has one, lands in it first.
 */
export async function prepareTrainerJob(task: TrainerTask, log: TrainerJobLog): Promise<TrainerJob> {
  // A name this worker lacks, or processes it cannot give, fail the job before anything is staged.
  const trainer = dataParallelCommand(trainerCommand(task.config), trainerProcesses(task.config, task.stage), RANKS_STOP_S, gangLaunch(task.config, task.stage, task.gang));
  const layout = new RunLayout(task.config.outputDir, task.config.name);
  const variant = task.variant ?? 'main';
  const files = layout.localTrainerJob(variant, task.job);
  const keptAt = (path: string) => {
    const key = layout.inBucket ? layout.keyOf(path) : undefined;
    return key ? layout.locationOf(key) : path;
  };
  const inputs = new StagedInputs();
  try {
    const started = Date.now();
    const train = await inputs.shards(task.train);
    const trainerConfig = trainerStageConfig(task.config, task.stage, files, {
      trainShards: train.paths,
      trainShardIds: train.ids,
      ...(await labeledData(task, inputs)),
      numClasses: task.numClasses,
      // Written on another GPU machine, it may be only in the checkpoint mirror.
      initCheckpoint: task.initCheckpoint && (await inputs.file(await localCheckpoint(task.config, task.initCheckpoint))),
      probes: task.probes,
    });
    if (inputs.staged > 0) log.info('trainer inputs staged', { job: task.job, objects: inputs.staged, seconds: (Date.now() - started) / 1000 });
    const mirror = CheckpointMirror.forStage(task.config, trainerConfig.keep_checkpoints as number, log);
    await mkdir(files.dir, { recursive: true });
    const configFile = files.config(task.stage);
    const configText = JSON.stringify(trainerConfig, null, 2);
    await writeFileAtomic(configFile, configText);
    if (layout.inBucket) {
      await writeLocation(keptAt(configFile), configText);
      await mirror!.keepGrowing(files.events);
    }

    let resume: Checkpoint | undefined;
    if (RESUMABLE_STAGES.includes(task.stage)) {
      await mirror?.restore(files.checkpoints);
      resume = await latestCheckpoint(files.checkpoints);
    }
    return { task, trainer, files, keptAt, scratch: layout.inBucket, inputs, configFile, batchSize: trainerConfig.batch_size as number | undefined, mirror, resume, log };
  } catch (err) {
    await inputs.release();
    throw err;
  }
}

/**
 * Runs the job's trainer process to its end, from its resume point: appends every event to the
 * job's events file, mirrors checkpoints and artifacts, and reports each new heartbeat. Returns
 * once the uploads in flight (a stop checkpoint, the final artifacts) have ended.
 */
export async function runTrainerJob(job: TrainerJob, attempt: TrainerAttempt): Promise<TrainerRun> {
  const { task, trainer, mirror, log } = job;
  // Forked from the worker's forkserver where it is the reference trainer in one process.
  const { command, env } = await throughForkserver(trainer, attempt.signal);
  // Every event of every attempt, timestamped: loss curves and speed for reports and benchmarks.
  const events = createWriteStream(job.files.events, { flags: 'a' });
  // A full disk or an I/O error (ENOSPC, EIO) fails the attempt, retryably, once the trainer has
  // ended; unheard, the stream's 'error' event would end the worker process and every job on it.
  const eventsWritten = finished(events).then(() => undefined, (err: Error) => err);
  let beat = attempt.beat;
  // A trainer that reports nothing for progressTimeout (a rank hung in a collective, a deadlock) is
  // stopped like a cancelled one, every rank with it, and the attempt fails retryably.
  const stallMs = msToNumber((task.config.trainer as { progressTimeout?: string }).progressTimeout ?? PROGRESS_TIMEOUT);
  const stall = new AbortController();
  let watchdog: NodeJS.Timeout | undefined;
  // Only node 0 of a gang hears events (global rank 0 is its); a rank hung anywhere stalls its collectives, so node 0's watchdog stops the gang.
  const watched = (task.gang?.rank ?? 0) === 0;
  const watch = () => {
    clearTimeout(watchdog);
    if (watched) watchdog = setTimeout(() => stall.abort(), stallMs);
  };
  watch();
  try {
    const outcome = await runTrainerProcess({
      command,
      env,
      stage: task.stage,
      configFile: job.configFile,
      resume: job.resume?.path,
      signal: AbortSignal.any([attempt.signal, stall.signal]),
      killGraceMs: STOP_GRACE_MS,
      onEvent: (event) => {
        if (!stall.signal.aborted) watch();
        events.write(`${JSON.stringify({ ...event, at: Date.now(), attempt: attempt.attempt })}\n`);
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
        attempt.onBeat(beat);
      },
      onStderr: (line) => log.debug(line, { job: task.job, stream: 'trainer' }),
    });
    return { attempt: attempt.attempt, outcome, beat, ...(stall.signal.aborted ? { stalledMs: stallMs } : {}) };
  } finally {
    clearTimeout(watchdog);
    await job.inputs.release();
    events.end();
    const eventsFailed = await eventsWritten;
    await mirror?.settle();
    if (eventsFailed) throw eventsFailed;
  }
}

/**
 * The job's result, or the TrainerJobError that says why there is none. The next stage may run on
 * another machine: everything must be in the mirror before this one succeeds.
 */
export async function finishTrainerJob(job: TrainerJob, run: TrainerRun, stop?: TrainerStop): Promise<TrainerResult> {
  const { task, mirror, resume, keptAt } = job;
  const { outcome } = run;
  // A stop asked for (cancellation, shutdown) is what ended the trainer even if it also went quiet.
  const failure = run.stalledMs !== undefined && !stop ? trainerStalled(task.job, run.stalledMs, run.beat) : trainerJobError(task.job, outcome, run.beat, stop);
  if (failure) throw failure;
  await mirror?.flush();
  const kept = (checkpoint: Checkpoint | undefined) => checkpoint && { ...checkpoint, path: keptAt(checkpoint.path) };
  const result: TrainerResult = {
    stage: task.stage,
    job: task.job,
    metrics: outcome.metrics,
    artifacts: mirror ? outcome.artifacts.map((a) => ({ ...a, path: keptAt(a.path), uri: mirror.uriOf(a.path) })) : outcome.artifacts,
    lastCheckpoint: kept(outcome.lastCheckpoint ?? resume),
    resumedFrom: kept(resume),
    attempt: run.attempt,
  };
  // Everything it wrote is in the bucket now.
  if (job.scratch) await rm(job.files.dir, { recursive: true, force: true });
  return result;
}
