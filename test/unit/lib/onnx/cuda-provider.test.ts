// `encoder.device: cuda` where CUDA is not there: a clear, non-retryable refusal naming the setting
// and what the worker lacks, decided from facts so that it is tested without a GPU.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CudaFacts, cudaStartFailure, cudaUnavailable, isCudaStartFailure } from '../../../../lib/onnx/cuda-provider';

const GPU_WORKER: CudaFacts = { platform: 'linux/x64', gpus: 1, visibleDevices: undefined, providerMissing: undefined, libraryDir: '/cache/onnxruntime-cuda-abc/lib', ldLibraryPath: '' };

describe('CUDA execution provider', () => {
  it('lets a set-up GPU worker try it', () => {
    assert.equal(cudaUnavailable(GPU_WORKER), undefined);
    assert.equal(cudaUnavailable({ ...GPU_WORKER, visibleDevices: '0' }), undefined);
  });

  it('names the setting and what is missing: no GPU, no provider, or both', () => {
    const noGpu = cudaUnavailable({ ...GPU_WORKER, gpus: 0 })!;
    assert.match(noGpu, /^encoder\.device is cuda, but this worker lacks an NVIDIA GPU \(no \/dev\/nvidia<N> device\)/);
    assert.doesNotMatch(noGpu, /execution provider \(/);
    assert.match(noGpu, /or set encoder\.device: cpu$/);
    const noProvider = cudaUnavailable({ ...GPU_WORKER, providerMissing: 'libonnxruntime_providers_cuda.so not in /b' })!;
    assert.match(noProvider, /lacks onnxruntime's CUDA execution provider \(libonnxruntime_providers_cuda\.so not in \/b\): embed on a GPU worker set up with `node infra\/setup\.cjs --cuda`/);
    assert.doesNotMatch(noProvider, /NVIDIA GPU \(/);
    const neither = cudaUnavailable({ ...GPU_WORKER, gpus: 0, providerMissing: 'x not in /b' })!;
    assert.match(neither, /lacks an NVIDIA GPU .* and onnxruntime's CUDA execution provider/);
  });

  it('treats CUDA_VISIBLE_DEVICES that hides every GPU as none', () => {
    for (const hidden of ['', '-1']) {
      assert.match(cudaUnavailable({ ...GPU_WORKER, gpus: 2, visibleDevices: hidden })!, /lacks a visible GPU \(CUDA_VISIBLE_DEVICES=".*" hides all 2\)/);
    }
  });

  it('refuses platforms onnxruntime-node has no CUDA provider for', () => {
    assert.match(cudaUnavailable({ ...GPU_WORKER, platform: 'darwin/arm64' })!, /linux\/x64 only and this worker is darwin\/arm64/);
  });

  it('tells a provider that did not start from a model onnxruntime cannot load, and says where its runtime is', () => {
    // What onnxruntime-node 1.30.0 threw here with the provider placed: without the runtime on the
    // loader path, and with it but no driver (a stub libcuda.so.1).
    const missingLib = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';
    const noDriver = 'cuda_call.cc:146 CudaCall CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version ; GPU=-1 ; expr=cudaSetDevice(info_.device_id);';
    assert.ok(isCudaStartFailure(missingLib));
    assert.ok(isCudaStartFailure(noDriver));
    assert.ok(!isCudaStartFailure('Load model from /m.onnx failed: Protobuf parsing failed.'));
    assert.match(
      cudaStartFailure(GPU_WORKER, missingLib),
      /did not start on this worker: .*Failed to load shared library \(onnxruntime's log on the worker's stderr names which\)\. start this worker with LD_LIBRARY_PATH=\/cache\/onnxruntime-cuda-abc\/lib/,
    );
    assert.match(cudaStartFailure(GPU_WORKER, noDriver), /CUDA failure 35.*\. start this worker with LD_LIBRARY_PATH/);
    assert.match(cudaStartFailure({ ...GPU_WORKER, ldLibraryPath: '/x:/cache/onnxruntime-cuda-abc/lib' }, missingLib), /LD_LIBRARY_PATH has the runtime .*check the driver supports CUDA 13/);
    assert.match(cudaStartFailure({ ...GPU_WORKER, libraryDir: undefined }, missingLib), /CUDA 13 and cuDNN 9 runtime must be on the loader path/);
  });
});
