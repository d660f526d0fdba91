import { NativeConnection, Worker, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { cpuActivities, gpuActivities } from '../activities';
import { type WorkerSettings, workerSettingsFromEnv } from '../lib/config/worker-settings';
import { workerSearchKernel } from '../lib/retrieval/kernel-choice';
import { inputLimits } from '../lib/input-limits';
import { log } from '../lib/log';
import { workerTrainers } from '../lib/trainer/command';
import { startTrainerForkserver } from '../lib/trainer/forkserver';
import { openNodeQueue } from '../lib/trainer/gang-node';
import { trainerSlots } from '../lib/trainer/trainer-slots';
import { connectConfig } from '../lib/temporal/connection';
import { CPU_QUEUE, GPU_QUEUE } from '../lib/temporal/queues';
import { failedAttempt } from './failed-attempt';
import { livenessHeartbeat } from './heartbeat';
import { LOG_CONTEXT_INTERCEPTORS } from './log-context';
import { installRuntime } from './telemetry';
import { workflowCode } from './workflow-bundle';

export type QueueKind = 'cpu' | 'gpu';

/**
 * Trainer activities heartbeat every few seconds, and the server's reply is how a cancellation
 * reaches them. The SDK's default throttle (80% of the heartbeat timeout, minutes for trainers)
 * would delay a cancel by as long, so GPU workers send at least every 5 s.
 */
export const GPU_WORKER_OPTIONS = { maxHeartbeatThrottleInterval: '5s' } as const;

/**
 * How a stopping GPU worker (SIGTERM, SIGINT, `Worker.shutdown()`) treats a running trainer. In SDK
 * 1.24 `shutdownGraceTime` is the wait *before* running activities are cancelled (reason
 * WORKER_SHUTDOWN), after which the worker waits for them with no limit but `shutdownForceTime`.
 * A trainer is better told at once: it checkpoints in seconds, and a longer wait only trains on
 * what the next attempt will redo anyway. So: cancel at once, and give the trainer `grace`
 * (SEPT_SHUTDOWN_GRACE) to write its checkpoint and exit before the worker gives up and exits (the
 * trainer, its stdin closed, then still checkpoints and stops). runTrainer reports the stop as a
 * retryable failure, so the next attempt runs on another worker and resumes from the checkpoint.
 */
export function gpuShutdownOptions(grace: string) {
  return { shutdownGraceTime: 0, shutdownForceTime: grace } as const;
}

/** A `sept-cpu` worker's workflow code, bundled with its interceptors (workflow-bundle.ts's workflowCode()). */
export type WorkflowCode = { workflowBundle: WorkflowBundleOption };

/**
 * The options of a septflow worker of `kind`, without its connection: production workers and the
 * tests' in-process workers are built from these same options, so tests exercise what is deployed.
 */
export function workerOptions(kind: QueueKind, settings: WorkerSettings, workflows?: WorkflowCode) {
  const activityInterceptors = [...LOG_CONTEXT_INTERCEPTORS.activity, livenessHeartbeat, failedAttempt];
  if (kind === 'cpu') {
    if (!workflows) throw new Error('a sept-cpu worker needs its workflow code: workflowCode() in workers/workflow-bundle.ts');
    return {
      taskQueue: CPU_QUEUE,
      ...workflows,
      activities: cpuActivities,
      // The bundle carries the workflow interceptors.
      interceptors: { activity: activityInterceptors },
      maxConcurrentActivityTaskExecutions: settings.cpuActivityConcurrency,
      maxConcurrentWorkflowTaskExecutions: settings.workflowConcurrency,
    } satisfies Omit<WorkerOptions, 'connection'>;
  }
  return {
    taskQueue: GPU_QUEUE,
    activities: gpuActivities,
    interceptors: { activity: activityInterceptors },
    maxConcurrentActivityTaskExecutions: settings.gpuActivityConcurrency,
    ...gpuShutdownOptions(settings.shutdownGrace),
    ...GPU_WORKER_OPTIONS,
  } satisfies Omit<WorkerOptions, 'connection'>;
}

/**
 * Runs one worker until SIGINT or SIGTERM (the SDK's runtime handles both: it stops polling, then
 * exits once running activities are done; a GPU worker stops its trainer at once, see
 * gpuShutdownOptions).
 */
export async function runWorker(kind: QueueKind): Promise<void> {
  const settings = workerSettingsFromEnv();
  // Caps on input work that do not parse stop the worker here, not a run at its first shard.
  log.info({ inputLimits: inputLimits() }, 'input limits');
  // A bad trainer registry stops a GPU worker here, not a run at its first trainer job.
  if (kind === 'gpu') log.info({ trainers: workerTrainers().names, file: settings.trainersFile }, 'trainers');
  // Warm by the first job: importing torch takes seconds.
  if (kind === 'gpu') startTrainerForkserver();
  // SEPT_SEARCH_KERNEL=blas without the built addon stops a CPU worker here, not a run at its first search.
  if (kind === 'cpu') log.info({ searchKernel: workerSearchKernel(), setting: settings.searchKernel }, 'exact search kernel');
  installRuntime(kind);
  const { connectionOptions, namespace } = connectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const options = workerOptions(kind, settings, kind === 'cpu' ? { workflowBundle: await workflowCode() } : undefined);
    // A GPU worker also polls a queue of its own: a gang's node runs there (lib/trainer/gang-node.ts),
    // in the same trainer slots as the trainers from sept-gpu (lib/trainer/trainer-slots.ts).
    if (kind === 'gpu') trainerSlots.resize(settings.gpuActivityConcurrency);
    const queues = kind === 'gpu' ? [options.taskQueue, openNodeQueue()] : [options.taskQueue];
    const workers = await Promise.all(queues.map((taskQueue) => Worker.create({ connection, namespace, ...options, taskQueue })));
    log.info({ queues, address: connectionOptions.address, namespace }, 'worker started');
    await Promise.all(workers.map((worker) => worker.run()));
    log.info({ queues }, 'worker stopped');
  } finally {
    await connection.close();
  }
}
