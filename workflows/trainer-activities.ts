import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { gpuActivities } from '../activities';
import type { TrainerResult } from '../activities/train';
import type { RunConfig } from '../lib/config/schema';
import { GPU_QUEUE } from '../lib/temporal/queues';

/** The trainer hand-off on `sept-gpu`, with the run's timeouts and attempts. */
export function trainerActivities(config: RunConfig) {
  return proxyActivities<typeof gpuActivities>({
    taskQueue: GPU_QUEUE,
    heartbeatTimeout: config.trainer.heartbeatTimeout,
    startToCloseTimeout: config.trainer.startToCloseTimeout,
    // Wait for the trainer to checkpoint and stop before the workflow reports itself cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: config.trainer.maxAttempts, initialInterval: '2s', nonRetryableErrorTypes: ['InvalidTrainerConfig'] },
  });
}

/** The path of a trainer artifact of `kind` (its last checkpoint where it reported none). */
export function artifactPath(result: TrainerResult, kind: string): string {
  const found = result.artifacts.find((a) => a.kind === kind)?.path ?? result.lastCheckpoint?.path;
  if (!found) throw new Error(`trainer ${result.job} reported no ${kind}`);
  return found;
}
