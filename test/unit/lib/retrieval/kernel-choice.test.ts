import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { searchKernelFromEnv, workerSettingsFromEnv } from '../../../../lib/config/worker-settings';
import { chooseSearchKernel } from '../../../../lib/retrieval/kernel-choice';

describe("the exact search's kernel, the worker's choice", () => {
  it('is auto unless SEPT_SEARCH_KERNEL says blas or onnx, and nothing else', () => {
    assert.equal(searchKernelFromEnv({}), 'auto');
    assert.equal(workerSettingsFromEnv({ SEPT_SEARCH_KERNEL: 'onnx' }).searchKernel, 'onnx');
    assert.throws(() => searchKernelFromEnv({ SEPT_SEARCH_KERNEL: 'cuda' }), /SEPT_SEARCH_KERNEL/);
  });

  it('takes the BLAS kernel where it loads, onnxruntime where asked or where it does not (saying why), and refuses blas without it', () => {
    assert.deepEqual(chooseSearchKernel('auto', {}), { kernel: 'blas' });
    assert.deepEqual(chooseSearchKernel('blas', {}), { kernel: 'blas' });
    assert.deepEqual(chooseSearchKernel('onnx', {}), { kernel: 'onnx' });
    assert.deepEqual(chooseSearchKernel('onnx', { missing: 'not built' }), { kernel: 'onnx' });
    assert.deepEqual(chooseSearchKernel('auto', { missing: 'not built' }), { kernel: 'onnx', fallback: 'not built' });
    assert.throws(() => chooseSearchKernel('blas', { missing: 'not built' }), /SEPT_SEARCH_KERNEL=blas, but the BLAS search kernel cannot load: not built/);
  });
});
