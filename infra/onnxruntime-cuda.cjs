'use strict';
// onnxruntime-node's CUDA execution provider, for workers that embed with `encoder.device: cuda`.
// onnxruntime-node ships its CPU build only; its postinstall would fetch the CUDA provider from a
// feed these machines do not reach (npm ci runs with ONNXRUNTIME_NODE_INSTALL=skip). The same
// provider libraries ship in the onnxruntime-gpu wheel on PyPI: `node infra/setup.cjs --cuda` (or
// SEPT_SETUP_CUDA=1) downloads it and the NVIDIA runtime wheels, hash-checked
// (onnxruntime-cuda-requirements.txt), into a machine-wide cache `onnxruntime-cuda-<hash>/`:
// `provider/` (the two provider libraries) and `lib/` (CUDA 13 and cuDNN 9). The provider goes
// beside onnxruntime-node's native binding, where its core looks for it, as its own install script
// places it. The provider library carries no run path, so the runtime in `lib/` is found through
// LD_LIBRARY_PATH (`node infra/onnxruntime-cuda.cjs --library-path` prints it) unless the machine
// has CUDA 13 and cuDNN 9 on its loader path already.
// Never run by default: CPU machines need none of its 1.5 GB.
// Node built-ins only: infra/setup.cjs runs it, and lib/onnx/cuda-provider.ts locates with it.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { cacheRoot, installAtomically, run } = require('./python-venv.cjs');

const REQUIREMENTS = path.join(__dirname, 'onnxruntime-cuda-requirements.txt');
/** What the provider needs beside onnxruntime's core; the names its core loads them by. */
const PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
/** Where the wheels keep them: onnxruntime's in its capi/, NVIDIA's in nvidia/<component>/lib/. */
const PROVIDER_IN_WHEEL = path.join('onnxruntime', 'capi');
const RUNTIME_IN_WHEELS = 'nvidia';
// The wheels are fixed whatever Python runs pip: their shared libraries are all that is used. pip
// takes a given platform tag literally, so every tag the pinned wheels carry is named.
const PLATFORMS = ['manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux_2_12_x86_64', 'manylinux2010_x86_64'];
const WHEEL_TARGET = [...PLATFORMS.flatMap((tag) => ['--platform', tag]), '--python-version', '3.12', '--implementation', 'cp', '--abi', 'cp312'];

/** onnxruntime-node's package folder, as this project's code resolves it. */
function onnxruntimeNode() {
  return path.dirname(require.resolve('onnxruntime-node/package.json', { paths: [path.join(__dirname, '..')] }));
}

/** Its folder of native libraries for this platform, where its binding and core are (as its dist/binding.js and script/install.js name it). */
function bindingDir() {
  return path.join(onnxruntimeNode(), 'bin', 'napi-v6', process.platform, process.arch);
}

/** Why the pinned provider cannot serve this onnxruntime-node (a different release), or null. */
function releaseMismatch(requirementsText, nodeVersion) {
  const pin = /^onnxruntime-gpu==(\S+)/m.exec(requirementsText);
  if (!pin) return 'it pins no onnxruntime-gpu version';
  if (pin[1] === nodeVersion) return null;
  return `it pins onnxruntime-gpu ${pin[1]}, but onnxruntime-node is ${nodeVersion}: the provider must come from the same release (pin onnxruntime-gpu==${nodeVersion} with its hashes)`;
}

/** The cache folder of the install these requirements make, whether made or not. */
function installDir() {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).digest('hex').slice(0, 12);
  return path.join(cacheRoot(), `onnxruntime-cuda-${hash}`);
}

/**
 * Copies the provider and runtime libraries out of unpacked wheels (`unpacked`, each wheel's
 * contents merged) into `dir`: `provider/` and `lib/`. Throws naming what a wheel lacked.
 */
function collectLibraries(unpacked, dir) {
  const providerDir = path.join(dir, 'provider');
  const libDir = path.join(dir, 'lib');
  fs.mkdirSync(providerDir, { recursive: true });
  fs.mkdirSync(libDir, { recursive: true });
  for (const name of PROVIDER_LIBRARIES) {
    const from = path.join(unpacked, PROVIDER_IN_WHEEL, name);
    if (!fs.existsSync(from)) throw new Error(`the onnxruntime-gpu wheel has no ${path.join(PROVIDER_IN_WHEEL, name)}`);
    fs.copyFileSync(from, path.join(providerDir, name));
  }
  const runtimeRoot = path.join(unpacked, RUNTIME_IN_WHEELS);
  const components = fs.existsSync(runtimeRoot) ? fs.readdirSync(runtimeRoot) : [];
  let count = 0;
  for (const component of components) {
    const from = path.join(runtimeRoot, component, 'lib');
    if (!fs.existsSync(from)) continue;
    for (const name of fs.readdirSync(from)) {
      if (!/\.so(\.|$)/.test(name)) continue;
      fs.copyFileSync(path.join(from, name), path.join(libDir, name));
      count++;
    }
  }
  if (count === 0) throw new Error(`the NVIDIA wheels hold no shared library under ${RUNTIME_IN_WHEELS}/*/lib/`);
}

/**
 * Puts the provider libraries of the install `dir` beside onnxruntime-node's binding in `binding`,
 * replacing any that differ (npm ci empties node_modules, so setup places them again). Written to
 * a temporary name and renamed: a worker loading the provider meanwhile never reads half a file.
 */
function placeProvider(dir, binding) {
  if (!fs.existsSync(path.join(binding, 'onnxruntime_binding.node'))) throw new Error(`no onnxruntime-node binding in ${binding}`);
  for (const name of PROVIDER_LIBRARIES) {
    const from = path.join(dir, 'provider', name);
    const to = path.join(binding, name);
    const placed = fs.statSync(to, { throwIfNoEntry: false });
    if (placed && placed.size === fs.statSync(from).size) continue;
    const tmp = `${to}.tmp-${process.pid}`;
    fs.copyFileSync(from, tmp);
    fs.renameSync(tmp, to);
  }
}

/**
 * `{ binding, missing, libraryDir }`: onnxruntime-node's binding folder, why the provider cannot
 * load from it (undefined when both libraries are there) and the runtime folder setup made (undefined
 * when it made none).
 */
function locateCudaProvider() {
  const binding = bindingDir();
  const absent = PROVIDER_LIBRARIES.filter((name) => !fs.existsSync(path.join(binding, name)));
  const libDir = path.join(installDir(), 'lib');
  return {
    binding,
    missing: absent.length > 0 ? `${absent.join(' and ')} not in ${binding}` : undefined,
    libraryDir: fs.existsSync(libDir) ? libDir : undefined,
  };
}

async function download(dir, log) {
  const wheels = path.join(dir, 'wheels');
  const unpacked = path.join(dir, 'unpacked');
  log('CUDA execution provider: downloading onnxruntime-gpu and the CUDA 13 / cuDNN 9 runtime wheels (about 1.5 GB)');
  await run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', ...WHEEL_TARGET, '--require-hashes', '--progress-bar', 'off', '-r', REQUIREMENTS, '-d', wheels], { quiet: true });
  for (const wheel of fs.readdirSync(wheels).filter((name) => name.endsWith('.whl'))) {
    await run('python3', ['-m', 'zipfile', '-e', path.join(wheels, wheel), unpacked], { quiet: true });
  }
  collectLibraries(unpacked, dir);
  fs.rmSync(wheels, { recursive: true, force: true });
  fs.rmSync(unpacked, { recursive: true, force: true });
}

/** Installs the provider (downloading on first use) and places it; resolves to the runtime's folder. */
async function ensureCudaProvider({ log = () => {} } = {}) {
  if (`${process.platform}/${process.arch}` !== 'linux/x64') {
    throw new Error(`the CUDA execution provider: onnxruntime-node has one for Linux x64 only, this is ${process.platform}/${process.arch}`);
  }
  const mismatch = releaseMismatch(fs.readFileSync(REQUIREMENTS, 'utf8'), JSON.parse(fs.readFileSync(path.join(onnxruntimeNode(), 'package.json'), 'utf8')).version);
  if (mismatch) throw new Error(`the CUDA execution provider: ${path.basename(REQUIREMENTS)} does not fit: ${mismatch}`);
  const dir = installDir();
  if (!fs.existsSync(dir)) await installAtomically(dir, (tmpDir) => download(tmpDir, log), log);
  placeProvider(dir, bindingDir());
  const libraryDir = path.join(dir, 'lib');
  log(`CUDA execution provider: in ${bindingDir()}; start workers that embed with encoder.device: cuda with LD_LIBRARY_PATH=${libraryDir} unless CUDA 13 and cuDNN 9 are on this machine's loader path`);
  return libraryDir;
}

module.exports = { PROVIDER_LIBRARIES, collectLibraries, ensureCudaProvider, locateCudaProvider, placeProvider, releaseMismatch };

/** The runtime folder of the install placed here; installs nothing. */
async function installedLibraryPath() {
  const { missing, libraryDir } = locateCudaProvider();
  if (missing || !libraryDir) throw new Error(`the CUDA execution provider is not installed (${missing ?? 'no runtime folder'}): run node infra/setup.cjs --cuda`);
  return libraryDir;
}

if (require.main === module) {
  const job = process.argv.includes('--library-path') ? installedLibraryPath() : ensureCudaProvider({ log: (msg) => console.error(msg) });
  job.then(
    (dir) => console.log(dir),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
