import { join, resolve } from 'node:path';
import { z } from 'zod';
import { dataDir } from '../paths';
import { describeIssues } from './validate';

const count = z.coerce.number().int().positive();
const duration = z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h)$/, 'a duration such as 30s or 5m');
const BYTE_UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
const byteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB)?$/, 'a size in bytes, or with a unit such as 512MiB or 20GiB')
  .transform((s) => Math.floor(parseFloat(s) * BYTE_UNITS[/[A-Za-z]+$/.exec(s)?.[0] ?? 'B']));

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
  // Objects read from a bucket (run outputs; later shards) are kept here, least recently used first
  // out. Never the only copy of anything: a worker's disk may vanish with the worker. The default
  // holds a few dozen typical WebDataset shards and fits the ephemeral disk of a usual pod.
  SEPT_CACHE_DIR: z.string().min(1).optional(),
  SEPT_CACHE_BYTES: byteSize.default(10 * 2 ** 30),
});

export interface WorkerSettings {
  cpuActivityConcurrency: number;
  gpuActivityConcurrency: number;
  workflowConcurrency: number;
  shutdownGrace: string;
  /** The local cache of objects: SEPT_CACHE_DIR, default `<SEPT_DATA_DIR>/cache`. */
  cacheDir: string;
  /** SEPT_CACHE_BYTES, default 10 GiB. */
  cacheBytes: number;
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
    cacheDir: resolve(s.SEPT_CACHE_DIR ?? join(dataDir(env), 'cache')),
    cacheBytes: s.SEPT_CACHE_BYTES,
  };
}
