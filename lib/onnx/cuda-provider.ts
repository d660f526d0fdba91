// Whether onnxruntime's CUDA execution provider can run on this worker, for `encoder.device: cuda`.
// Asked for and absent, embedding fails at once naming the setting and what is missing, never
// falls back to the CPU unnoticed: a pool embedded at a hundredth of the expected speed looks hung.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths';

/** What decides it, gathered by `cudaFacts()`; plain data so that the decision is tested without a GPU. */
export interface CudaFacts {
  /** `linux/x64`: the only platform onnxruntime-node has a CUDA provider for. */
  platform: string;
  /** NVIDIA device files (/dev/nvidia0, …) this process sees. */
  gpus: number;
  /** CUDA_VISIBLE_DEVICES as set, undefined when unset. */
  visibleDevices: string | undefined;
  /** Why the provider libraries are not beside onnxruntime-node's binding; undefined when they are. */
  providerMissing: string | undefined;
  /** The CUDA runtime folder `node infra/setup.cjs --cuda` made, undefined when it made none. */
  libraryDir: string | undefined;
  ldLibraryPath: string;
}

const SETUP = 'node infra/setup.cjs --cuda';
const OR_CPU = 'or set encoder.device: cpu';

/** Why CUDA cannot even be tried here, naming everything missing; undefined when a session may be opened. */
export function cudaUnavailable(facts: CudaFacts): string | undefined {
  if (facts.platform !== 'linux/x64') {
    return `encoder.device is cuda, but onnxruntime-node has a CUDA execution provider for linux/x64 only and this worker is ${facts.platform}: ${OR_CPU}`;
  }
  const lacks: string[] = [];
  const hidden = facts.visibleDevices !== undefined && ['', '-1'].includes(facts.visibleDevices.trim());
  if (facts.gpus === 0) lacks.push('an NVIDIA GPU (no /dev/nvidia<N> device)');
  else if (hidden) lacks.push(`a visible GPU (CUDA_VISIBLE_DEVICES=${JSON.stringify(facts.visibleDevices)} hides all ${facts.gpus})`);
  if (facts.providerMissing) lacks.push(`onnxruntime's CUDA execution provider (${facts.providerMissing})`);
  if (lacks.length === 0) return undefined;
  return `encoder.device is cuda, but this worker lacks ${lacks.join(' and ')}: embed on a GPU worker set up with \`${SETUP}\`, ${OR_CPU}`;
}

/** Whether onnxruntime's message is about the CUDA provider or its runtime rather than the model. */
export function isCudaStartFailure(message: string): boolean {
  return /cuda|cudnn|cublas|curand|cufft|nvrtc|providers_shared|nvidia/i.test(message);
}

/** The message for a CUDA provider that was there but did not start: most often its runtime libraries are not found. */
export function cudaStartFailure(facts: CudaFacts, message: string): string {
  const onPath = facts.libraryDir !== undefined && facts.ldLibraryPath.split(':').includes(facts.libraryDir);
  const hint =
    facts.libraryDir === undefined
      ? `its CUDA 13 and cuDNN 9 runtime must be on the loader path (\`${SETUP}\` downloads them)`
      : onPath
        ? `LD_LIBRARY_PATH has the runtime from \`${SETUP}\` (${facts.libraryDir}); check the driver supports CUDA 13 (nvidia-smi)`
        : `start this worker with LD_LIBRARY_PATH=${facts.libraryDir} (the CUDA 13 and cuDNN 9 runtime \`${SETUP}\` downloaded), unless the machine's own CUDA 13 is meant`;
  // onnxruntime names the library it could not load in its log (stderr), not in the error.
  const named = /failed to load shared library/i.test(message) ? " (onnxruntime's log on the worker's stderr names which)" : '';
  return `encoder.device is cuda, but onnxruntime's CUDA execution provider did not start on this worker: ${message.trim()}${named}. ${hint}; ${OR_CPU}`;
}

interface LocatedProvider {
  missing?: string;
  libraryDir?: string;
}

function locateProvider(): LocatedProvider {
  try {
    const { locateCudaProvider } = require(join(projectRoot, 'infra', 'onnxruntime-cuda.cjs')) as { locateCudaProvider(): LocatedProvider };
    return locateCudaProvider();
  } catch (err) {
    return { missing: `cannot locate it: ${(err as Error).message}` };
  }
}

/** This worker's facts, read when a CUDA session is asked for. */
export function cudaFacts(env: NodeJS.ProcessEnv = process.env): CudaFacts {
  let gpus = 0;
  try {
    gpus = readdirSync('/dev').filter((name) => /^nvidia\d+$/.test(name)).length;
  } catch {
    // No /dev to read: no device either.
  }
  const provider = locateProvider();
  return {
    platform: `${process.platform}/${process.arch}`,
    gpus,
    visibleDevices: env.CUDA_VISIBLE_DEVICES,
    providerMissing: provider.missing,
    libraryDir: provider.libraryDir,
    ldLibraryPath: env.LD_LIBRARY_PATH ?? '',
  };
}
