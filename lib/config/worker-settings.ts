import { delimiter, join, resolve } from 'node:path';
import { z } from 'zod';
import { dataDir } from '../paths';
import { describeIssues } from './validate';

const count = z.coerce.number().int().positive();
const duration = z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h)$/, 'a duration such as 30s or 5m');
const BYTE_UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
/** A size in bytes, or with a unit (`512MiB`, `20GiB`): the form every byte setting of a worker takes. */
export const byteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|KiB|MiB|GiB|TiB)?$/, 'a size in bytes, or with a unit such as 512MiB or 20GiB')
  .transform((s) => Math.floor(parseFloat(s) * BYTE_UNITS[/[A-Za-z]+$/.exec(s)?.[0] ?? 'B']));

/** `s3://bucket` or `s3://bucket/prefix`, without `.` or `..` in the prefix. */
const bucketPrefix = z
  .string()
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?$/, 'an s3://bucket or s3://bucket/prefix URI')
  .refine((uri) => !uri.split('/').slice(3).some((part) => part === '.' || part === '..'), 'a prefix without . or .. parts');
const bucketList = z.string().transform((list) => list.split(/[\s,]+/).filter(Boolean)).pipe(z.array(bucketPrefix));

// The worker decides, the run asks: a run reads and writes SEPT_DATA_DIR, reads SEPT_READ_ROOTS
// (path-delimited), and reaches the buckets listed here (comma- or space-separated), read and write
// or read only. No bucket by default: one that is not listed is out of every run's reach, whatever
// the worker's credentials open (lib/storage/access.ts enforces these on every location a run names).
const storageAccessSchema = z.object({
  SEPT_READ_ROOTS: z.string().transform((list) => list.split(delimiter).filter(Boolean).map((root) => resolve(root))).default([]),
  SEPT_BUCKETS: bucketList.default([]),
  SEPT_READ_BUCKETS: bucketList.default([]),
});

/**
 * The exact search's matrix-product kernel (lib/retrieval/kernel-choice.ts): `blas`, OpenBLAS's
 * sgemm in the addon setup builds (infra/search-blas.cjs); `onnx`, onnxruntime's Gemm; `auto`,
 * the BLAS kernel where it is built. The machine's choice: both are exact.
 */
export const SEARCH_KERNELS = ['auto', 'blas', 'onnx'] as const;
export type SearchKernelSetting = (typeof SEARCH_KERNELS)[number];
const searchKernelSchema = z.object({ SEPT_SEARCH_KERNEL: z.enum(SEARCH_KERNELS).default('auto') });

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
  // The trainers a GPU worker runs besides the reference trainer: a run only names one (lib/trainer/command.ts).
  SEPT_TRAINERS: z.string().min(1).optional(),
  // A process that has imported torch once, from which the reference trainer's jobs are forked (lib/trainer/forkserver.ts).
  SEPT_TRAINER_FORKSERVER: z.enum(['on', 'off']).default('on'),
});

/** Where runs may read and write: the roots and buckets this worker allows. */
export interface StorageAccess {
  /** SEPT_DATA_DIR: read and written. */
  dataDir: string;
  /** SEPT_READ_ROOTS: local folders read only; none by default. */
  readRoots: string[];
  /** SEPT_BUCKETS: `s3://bucket[/prefix]` read and written; none by default. */
  buckets: string[];
  /** SEPT_READ_BUCKETS: `s3://bucket[/prefix]` read only; none by default. */
  readBuckets: string[];
}

export interface WorkerSettings {
  cpuActivityConcurrency: number;
  gpuActivityConcurrency: number;
  workflowConcurrency: number;
  shutdownGrace: string;
  /** The local cache of objects: SEPT_CACHE_DIR, default `<SEPT_DATA_DIR>/cache`. */
  cacheDir: string;
  /** SEPT_CACHE_BYTES, default 10 GiB. */
  cacheBytes: number;
  /** SEPT_TRAINERS: the JSON file of the trainers this worker runs by name; none, the reference trainer only. */
  trainersFile?: string;
  /** SEPT_TRAINER_FORKSERVER, default on: the reference trainer's jobs are forked from a process that has imported torch. */
  trainerForkserver: boolean;
  storage: StorageAccess;
  /** SEPT_SEARCH_KERNEL, default auto. */
  searchKernel: SearchKernelSetting;
}

function parseSettings<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const picked = Object.fromEntries(Object.keys(schema.shape).filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  const result = schema.safeParse(picked);
  if (!result.success) throw new Error(`invalid worker settings: ${describeIssues(result.error.issues).join('; ')}`);
  return result.data;
}

export function storageAccessFromEnv(env: NodeJS.ProcessEnv = process.env): StorageAccess {
  const s = parseSettings(storageAccessSchema, env);
  return { dataDir: dataDir(env), readRoots: s.SEPT_READ_ROOTS, buckets: s.SEPT_BUCKETS, readBuckets: s.SEPT_READ_BUCKETS };
}

export function searchKernelFromEnv(env: NodeJS.ProcessEnv = process.env): SearchKernelSetting {
  return parseSettings(searchKernelSchema, env).SEPT_SEARCH_KERNEL;
}

export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const s = parseSettings(workerSettingsSchema, env);
  return {
    cpuActivityConcurrency: s.SEPT_CPU_ACTIVITY_CONCURRENCY,
    gpuActivityConcurrency: s.SEPT_GPU_ACTIVITY_CONCURRENCY,
    workflowConcurrency: s.SEPT_WORKFLOW_CONCURRENCY,
    shutdownGrace: s.SEPT_SHUTDOWN_GRACE,
    cacheDir: resolve(s.SEPT_CACHE_DIR ?? join(dataDir(env), 'cache')),
    cacheBytes: s.SEPT_CACHE_BYTES,
    trainersFile: s.SEPT_TRAINERS && resolve(s.SEPT_TRAINERS),
    trainerForkserver: s.SEPT_TRAINER_FORKSERVER === 'on',
    storage: storageAccessFromEnv(env),
    searchKernel: searchKernelFromEnv(env),
  };
}
