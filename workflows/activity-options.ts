import { ActivityCancellationType, type ActivityOptions, proxyActivities } from '@temporalio/workflow';
import type { cpuActivities, gpuActivities } from '../activities';
import type { RunConfig } from '../lib/config/schema';
import { CPU_QUEUE, GPU_QUEUE } from '../lib/temporal/queues';

/**
 * Every activity's timeouts, in one place. The rule: an activity either has a heartbeat timeout
 * (the worker heartbeats for it while it runs, workers/heartbeat.ts, so a dead worker is noticed
 * within that timeout and the retry runs elsewhere), or a start-to-close timeout sized to a few
 * minutes of work. An activity handed to a worker that dies must never strand a run for the
 * hours that its start-to-close allows for a long piece of work.
 */

/** How long a dead worker may hold a CPU activity. A worker heartbeats every quarter of it. */
const CPU_LIVENESS = '30s';

/** Bookkeeping and CPU work on `sept-cpu`: listing, plans, records, checks, search, selection, reports. */
export const CPU_WORK: ActivityOptions = { taskQueue: CPU_QUEUE, startToCloseTimeout: '4h', heartbeatTimeout: CPU_LIVENESS, retry: { maximumAttempts: 5 } };

export const cpuWork = () => proxyActivities<typeof cpuActivities>(CPU_WORK);

/**
 * Resolving a run's configuration, the first thing every workflow does: seconds of work (it may read
 * an encoder.json), so a start-to-close of a minute; a bad configuration is not retried.
 */
export const configResolution = () => proxyActivities<typeof cpuActivities>({ taskQueue: CPU_QUEUE, startToCloseTimeout: '1m', retry: { maximumAttempts: 5 } });

/** The census's label count on `sept-gpu` (it reads the pool where the trainer would). */
export const gpuCount = () => proxyActivities<typeof gpuActivities>({ ...CPU_WORK, taskQueue: GPU_QUEUE });

/** Embedding a group of shards: minutes each, many attempts since a shard is cheap to redo. */
export function embedding(config: RunConfig) {
  return proxyActivities<typeof cpuActivities>({ ...CPU_WORK, startToCloseTimeout: '2h', heartbeatTimeout: config.embed.heartbeatTimeout, retry: { maximumAttempts: 10 } });
}

/**
 * Commits of staged shards into the vectors table. No heartbeat on purpose: a commit is short, and
 * its start-to-close (`embed.commitTimeout`, minutes) is what keeps a zombie attempt (a worker cut
 * off from the server, still committing) from overlapping its retry; a heartbeat timeout would
 * start the retry while the zombie may still be writing.
 */
export function commits(config: RunConfig) {
  return proxyActivities<typeof cpuActivities>({ taskQueue: CPU_QUEUE, startToCloseTimeout: config.embed.commitTimeout, retry: { maximumAttempts: 10 } });
}

/** The trainer hand-off on `sept-gpu`, with the run's timeouts and attempts. */
export function trainer(config: RunConfig) {
  return proxyActivities<typeof gpuActivities>({
    taskQueue: GPU_QUEUE,
    heartbeatTimeout: config.trainer.heartbeatTimeout,
    startToCloseTimeout: config.trainer.startToCloseTimeout,
    // Wait for the trainer to checkpoint and stop before the workflow reports itself cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: config.trainer.maxAttempts, initialInterval: '2s', nonRetryableErrorTypes: ['InvalidTrainerConfig'] },
  });
}

/**
 * A gang's claims of sept-gpu workers (workflows/train-gang.ts): each waits at most `leftMs`, what
 * remains of trainer.rendezvousTimeout, for a worker to answer; a worker that serves no queue of
 * its own fails it and another answers.
 */
export const nodeClaims = (leftMs: number) =>
  proxyActivities<typeof gpuActivities>({ taskQueue: GPU_QUEUE, scheduleToCloseTimeout: leftMs, startToCloseTimeout: '1m', retry: { initialInterval: '1s', maximumInterval: '5s' } });

/**
 * A gang node's trainer, on that worker's own `queue`. One attempt: a node that fails ends its
 * round, and the gang starts the next on the nodes that answer then. A worker gone since its claim
 * never starts it: trainer.rendezvousTimeout, then the round ends.
 */
export function gangNode(config: RunConfig, queue: string) {
  return proxyActivities<typeof gpuActivities>({
    taskQueue: queue,
    heartbeatTimeout: config.trainer.heartbeatTimeout,
    startToCloseTimeout: config.trainer.startToCloseTimeout,
    scheduleToStartTimeout: config.trainer.rendezvousTimeout,
    // The next round starts once every node of this one has stopped, rank 0 after its checkpoint.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  });
}
