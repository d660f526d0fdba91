/**
 * The environment of a trainer process: a trainer runs code that a run's data and settings steer,
 * so it gets what it needs to find programs, libraries and GPUs, and nothing of the worker's own
 * configuration (no TEMPORAL_* API key, no AWS_* credentials, no SEPT_* settings). The worker
 * stages its inputs and uploads its outputs; the trainer never reaches Temporal or a bucket.
 */

/** The worker's variables a trainer inherits: locale, temporary files, and the GPU and thread settings of the machine. */
const INHERITED = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TMPDIR',
  // CUDA libraries outside the loader's default paths (NVIDIA container images set it).
  'LD_LIBRARY_PATH',
  'CUDA_VISIBLE_DEVICES',
  'CUDA_DEVICE_ORDER',
  'NVIDIA_VISIBLE_DEVICES',
  'CUBLAS_WORKSPACE_CONFIG',
  'PYTORCH_CUDA_ALLOC_CONF',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
];

/** Families inherited whole: NCCL's and gloo's network and debug settings (NCCL_SOCKET_IFNAME, NCCL_IB_HCA, GLOO_SOCKET_IFNAME, …) are the machine's. */
const INHERITED_PREFIXES = ['NCCL_', 'GLOO_'];

/**
 * What a trainer process sees: the inherited variables the worker has, then its registry entry's
 * `env` (the operator's, lib/trainer/command.ts), then what the trainer protocol sets.
 */
export function trainerEnvironment(entryEnv: Record<string, string> = {}, workerEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const inherited = Object.entries(workerEnv).filter(
    (entry): entry is [string, string] => entry[1] !== undefined && (INHERITED.includes(entry[0]) || INHERITED_PREFIXES.some((p) => entry[0].startsWith(p))),
  );
  // Supervised: stdin is held open by the worker, and its end means the worker died (trainer/PROTOCOL.md, Supervision).
  return { ...Object.fromEntries(inherited), ...entryEnv, SEPT_TRAINER_SUPERVISED: '1' };
}
