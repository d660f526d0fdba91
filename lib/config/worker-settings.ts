import { z } from 'zod';
import { describeIssues } from './validate';

const count = z.coerce.number().int().positive();
const duration = z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h)$/, 'a duration such as 30s or 5m');

/** Per-process worker settings, from the environment (they belong to a machine, not to a run). */
const workerSettingsSchema = z.object({
  // Not a CPU budget: a worker's embed threads are one pool per process (encoder.threads), however
  // many shards are in flight. Slots are what lets every activity a workflow schedules meet a
  // waiting poller: one that finds none goes to the server's backlog, which the dev server
  // dispatched 1.6 s late here (bench:embed). Above embed.window (16) plus a commit and a search.
  SEPT_CPU_ACTIVITY_CONCURRENCY: count.default(24),
  SEPT_GPU_ACTIVITY_CONCURRENCY: count.default(1),
  SEPT_WORKFLOW_CONCURRENCY: count.default(40),
  // A GPU worker told to stop lets running trainers checkpoint before it goes.
  SEPT_SHUTDOWN_GRACE: duration.default('30s'),
});

export interface WorkerSettings {
  cpuActivityConcurrency: number;
  gpuActivityConcurrency: number;
  workflowConcurrency: number;
  shutdownGrace: string;
}

export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const picked = Object.fromEntries(Object.keys(workerSettingsSchema.shape).filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  const result = workerSettingsSchema.safeParse(picked);
  if (!result.success) throw new Error(`invalid worker settings: ${describeIssues(result.error.issues).join('; ')}`);
  const s = result.data;
  return {
    cpuActivityConcurrency: s.SEPT_CPU_ACTIVITY_CONCURRENCY,
    gpuActivityConcurrency: s.SEPT_GPU_ACTIVITY_CONCURRENCY,
    workflowConcurrency: s.SEPT_WORKFLOW_CONCURRENCY,
    shutdownGrace: s.SEPT_SHUTDOWN_GRACE,
  };
}
