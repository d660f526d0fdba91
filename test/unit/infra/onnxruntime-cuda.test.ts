// `node infra/setup.cjs --cuda`'s file logic on fake wheels: which libraries it takes from the
// onnxruntime-gpu and NVIDIA wheels, where it puts the provider, and the release pin it checks.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../../lib/paths';
import { tempDir } from '../../support/tmp';

interface CudaSetup {
  PROVIDER_LIBRARIES: string[];
  collectLibraries(unpacked: string, dir: string): void;
  placeProvider(dir: string, binding: string): void;
  releaseMismatch(requirementsText: string, nodeVersion: string): string | null;
}
const setup = require(join(projectRoot, 'infra', 'onnxruntime-cuda.cjs')) as CudaSetup;

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Wheels unpacked into one folder, as setup unpacks them: onnxruntime-gpu's capi/ and NVIDIA's nvidia/<component>/lib/. */
function fakeWheels(): string {
  const unpacked = tempDir();
  for (const name of [...setup.PROVIDER_LIBRARIES, 'libonnxruntime_providers_tensorrt.so', 'onnxruntime_pybind11_state.so']) write(join(unpacked, 'onnxruntime', 'capi', name), `ort ${name}`);
  write(join(unpacked, 'nvidia', 'cu13', 'lib', 'libcublas.so.13'), 'cublas');
  write(join(unpacked, 'nvidia', 'cu13', 'lib', 'libcudart_static.a'), 'static');
  write(join(unpacked, 'nvidia', 'cu13', 'include', 'cuda.h'), 'header');
  write(join(unpacked, 'nvidia', 'cudnn', 'lib', 'libcudnn.so.9'), 'cudnn');
  return unpacked;
}

describe('CUDA execution provider setup', () => {
  it('takes the two provider libraries and every NVIDIA shared library, nothing else', () => {
    const dir = tempDir();
    setup.collectLibraries(fakeWheels(), dir);
    assert.deepEqual(readdirSync(join(dir, 'provider')).sort(), [...setup.PROVIDER_LIBRARIES].sort());
    assert.deepEqual(readdirSync(join(dir, 'lib')).sort(), ['libcublas.so.13', 'libcudnn.so.9']);
    assert.equal(readFileSync(join(dir, 'provider', 'libonnxruntime_providers_cuda.so'), 'utf8'), 'ort libonnxruntime_providers_cuda.so');
  });

  it('names what a wheel lacked', () => {
    const noProvider = tempDir();
    write(join(noProvider, 'nvidia', 'cu13', 'lib', 'libcublas.so.13'), 'cublas');
    assert.throws(() => setup.collectLibraries(noProvider, tempDir()), /onnxruntime-gpu wheel has no onnxruntime\/capi\/libonnxruntime_providers_shared\.so/);
    const onlyProvider = tempDir();
    for (const name of setup.PROVIDER_LIBRARIES) write(join(onlyProvider, 'onnxruntime', 'capi', name), name);
    assert.throws(() => setup.collectLibraries(onlyProvider, tempDir()), /NVIDIA wheels hold no shared library/);
  });

  it('places the provider beside the binding, replacing a different one and leaving an equal one', () => {
    const dir = tempDir();
    setup.collectLibraries(fakeWheels(), dir);
    const binding = tempDir();
    assert.throws(() => setup.placeProvider(dir, binding), /no onnxruntime-node binding in/);
    write(join(binding, 'onnxruntime_binding.node'), 'binding');
    write(join(binding, 'libonnxruntime_providers_cuda.so'), 'an older release');
    setup.placeProvider(dir, binding);
    assert.deepEqual(readdirSync(binding).sort(), ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'onnxruntime_binding.node']);
    assert.equal(readFileSync(join(binding, 'libonnxruntime_providers_cuda.so'), 'utf8'), 'ort libonnxruntime_providers_cuda.so');
    const placed = statSync(join(binding, 'libonnxruntime_providers_shared.so')).mtimeMs;
    setup.placeProvider(dir, binding);
    assert.equal(statSync(join(binding, 'libonnxruntime_providers_shared.so')).mtimeMs, placed, 'an equal library is left alone');
  });

  it('pins onnxruntime-gpu from the release onnxruntime-node is', () => {
    const requirements = readFileSync(join(projectRoot, 'infra', 'onnxruntime-cuda-requirements.txt'), 'utf8');
    const nodeVersion = (JSON.parse(readFileSync(join(projectRoot, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(setup.releaseMismatch(requirements, nodeVersion), null);
    assert.match(setup.releaseMismatch(requirements, '9.9.9')!, /pins onnxruntime-gpu .*, but onnxruntime-node is 9\.9\.9: the provider must come from the same release/);
    assert.match(setup.releaseMismatch('numpy==2.0\n', nodeVersion)!, /pins no onnxruntime-gpu version/);
  });
});
