import { proxyActivities } from '@temporalio/workflow';
import type { cpuActivities, gpuActivities } from '../activities';
import type { Census } from '../lib/census';
import type { RunConfigInput } from '../lib/config/schema';
import { CPU_QUEUE, GPU_QUEUE } from '../lib/temporal/queues';
import { runConfigOrFail } from './run-config';

const cpu = proxyActivities<typeof cpuActivities>({
  taskQueue: CPU_QUEUE,
  startToCloseTimeout: '10m',
  retry: { maximumAttempts: 5 },
});

const gpu = proxyActivities<typeof gpuActivities>({
  taskQueue: GPU_QUEUE,
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { maximumAttempts: 5 },
});

/** Lists the pool's shards on `sept-cpu`, then counts its samples per label on `sept-gpu`. */
export async function census(input?: RunConfigInput): Promise<Census> {
  const config = runConfigOrFail(input);
  const shards = await cpu.listSourceShards(config.pool.sources);
  return gpu.countLabels(shards);
}
