import { ApplicationFailure, Context, heartbeat, log } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import { type LabeledSet, prepareLabeledSet } from '../lib/target/labeled-subset';
import type { GangNode } from '../lib/trainer/gang';
import { nodeClaim } from '../lib/trainer/gang-node';
import { startingHeartbeat, type TrainerHeartbeat } from '../lib/trainer/heartbeat';
import { trainerSlots } from '../lib/trainer/trainer-slots';
import { finishTrainerJob, prepareTrainerJob, runTrainerJob, type TrainerResult, type TrainerTask } from '../lib/trainer/job';
import type { TrainerStop } from '../lib/trainer/job-error';
import { failFastOnBadInput } from './failures';

export type { TrainerResult, TrainerTask } from '../lib/trainer/job';

/** Why this attempt was asked to stop, if it was: its worker shutting down is not the run's cancellation. */
function stopOf(ctx: Context): TrainerStop | undefined {
  if (!ctx.cancellationSignal.aborted) return undefined;
  const shutdown = ctx.cancellationDetails?.workerShutdown || (ctx.cancellationSignal.reason as Error | undefined)?.message === 'WORKER_SHUTDOWN';
  return shutdown ? 'worker-shutdown' : 'cancelled';
}

/**
 * Runs one trainer job (lib/trainer/job.ts) on `sept-gpu`. Heartbeats its progress and latest
 * checkpoint; a retried attempt resumes from the newest checkpoint; cancellation asks the trainer
 * to checkpoint and stop; exit code 2 fails without retries (activities/failures.ts).
 */
export async function runTrainer(task: TrainerTask): Promise<TrainerResult> {
  const ctx = Context.current();
  // One of this worker's trainer slots, shared by its two queues (lib/trainer/trainer-slots.ts); the worker heartbeats while it waits.
  const release = await trainerSlots.acquire(ctx.cancellationSignal, () => log.info('trainer waiting for a trainer slot of this worker', { job: task.job, stage: task.stage }));
  try {
    return await failFastOnBadInput(async () => {
      const job = await prepareTrainerJob(task, log);
      let beat = startingHeartbeat(task.stage, job.resume, ctx.info.heartbeatDetails as TrainerHeartbeat | undefined, job.batchSize);
      log.info('trainer starting', { job: task.job, stage: task.stage, attempt: ctx.info.attempt, resume: job.resume?.path });
      // The worker re-sends the latest beat between trainer events (workers/heartbeat.ts).
      heartbeat(beat);
      const run = await runTrainerJob(job, { attempt: ctx.info.attempt, signal: ctx.cancellationSignal, beat, onBeat: (next) => heartbeat((beat = next)) });
      return finishTrainerJob(job, run, stopOf(ctx));
    });
  } finally {
    release();
  }
}

/** The target's labeled train set with `labelsPerClass` applied, its validation split with `validationPerClass`, and its test set, as trainer-readable shards with the run's class indices. */
export async function prepareLabeledTarget(config: RunConfig): Promise<LabeledSet> {
  return failFastOnBadInput(() => prepareLabeledSet(config));
}

/**
 * A gang's claim of this sept-gpu worker as one of its nodes (workflows/train-gang.ts): its own task
 * queue, its address and a free port. A worker without a queue of its own (one started in a test's
 * process), or whose trainer slots are all taken, fails the claim, retryably, so that another
 * worker answers it.
 */
export async function claimNode(): Promise<GangNode> {
  const node = await nodeClaim();
  if (!node) throw ApplicationFailure.retryable('this sept-gpu worker serves no task queue of its own', 'NotANode');
  if (!trainerSlots.free()) throw ApplicationFailure.retryable('every trainer slot of this sept-gpu worker is taken', 'NodeBusy');
  return node;
}
