import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { cpuActivities, gpuActivities } from '../activities';
import { workerSettingsFromEnv } from '../lib/config/worker-settings';
import { log } from '../lib/log';
import { connectConfig } from '../lib/temporal/connection';
import { PinoTemporalLogger } from '../lib/temporal/logger';
import { CPU_QUEUE, GPU_QUEUE } from '../lib/temporal/queues';

export type QueueKind = 'cpu' | 'gpu';

/**
 * Trainer activities heartbeat every few seconds, and the server's reply is how a cancellation
 * reaches them. The SDK's default throttle (80% of the heartbeat timeout, minutes for trainers)
 * would delay a cancel by as long, so GPU workers send at least every 5 s.
 */
export const GPU_WORKER_OPTIONS = { maxHeartbeatThrottleInterval: '5s' } as const;

/**
 * Runs one worker until SIGINT or SIGTERM (the SDK's runtime handles both: it stops polling, lets
 * running activities finish within the shutdown grace time, then exits).
 */
export async function runWorker(kind: QueueKind): Promise<void> {
  const settings = workerSettingsFromEnv();
  Runtime.install({ logger: new PinoTemporalLogger(log.child({ queue: kind })) });
  const { connectionOptions, namespace } = connectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  try {
    const worker =
      kind === 'cpu'
        ? await Worker.create({
            connection,
            namespace,
            taskQueue: CPU_QUEUE,
            workflowsPath: require.resolve('../workflows'),
            activities: cpuActivities,
            maxConcurrentActivityTaskExecutions: settings.cpuActivityConcurrency,
            maxConcurrentWorkflowTaskExecutions: settings.workflowConcurrency,
          })
        : await Worker.create({
            connection,
            namespace,
            taskQueue: GPU_QUEUE,
            activities: gpuActivities,
            maxConcurrentActivityTaskExecutions: settings.gpuActivityConcurrency,
            shutdownGraceTime: settings.shutdownGrace,
            ...GPU_WORKER_OPTIONS,
          });
    log.info({ queue: worker.options.taskQueue, address: connectionOptions.address, namespace }, 'worker started');
    await worker.run();
    log.info({ queue: worker.options.taskQueue }, 'worker stopped');
  } finally {
    await connection.close();
  }
}
