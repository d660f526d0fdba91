// Which kernel the exact search multiplies with: the worker's setting SEPT_SEARCH_KERNEL
// (lib/config/worker-settings.ts), never a run's. `auto` takes the BLAS kernel where setup built it,
// onnxruntime's otherwise; both are exact (search-kernel.ts), so mostly the speed differs.
import { type SearchKernelSetting, searchKernelFromEnv } from '../config/worker-settings';
import { log } from '../log';
import { loadSearchBlas } from './blas-kernel';

export type SearchKernelName = 'blas' | 'onnx';

/** The kernel a setting picks, given whether the BLAS addon loads here; `fallback` says why auto did not take it. */
export function chooseSearchKernel(setting: SearchKernelSetting, blas: { missing?: string }): { kernel: SearchKernelName; fallback?: string } {
  if (setting === 'onnx') return { kernel: 'onnx' };
  if (blas.missing === undefined) return { kernel: 'blas' };
  if (setting === 'blas') throw new Error(`SEPT_SEARCH_KERNEL=blas, but the BLAS search kernel cannot load: ${blas.missing}`);
  return { kernel: 'onnx', fallback: blas.missing };
}

let workerKernel: SearchKernelName | undefined;

/** This worker's kernel, chosen on first use; a fallback from auto is logged once. */
export function workerSearchKernel(): SearchKernelName {
  if (!workerKernel) {
    const choice = chooseSearchKernel(searchKernelFromEnv(), loadSearchBlas());
    if (choice.fallback) log.warn(`exact search: onnxruntime's kernel, the BLAS kernel cannot load (${choice.fallback})`);
    workerKernel = choice.kernel;
  }
  return workerKernel;
}
