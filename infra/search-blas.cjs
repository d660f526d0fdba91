'use strict';
// Builds the exact search's BLAS kernel (native/search-blas/: a Node-API addon over OpenBLAS's
// sgemm) into a machine-wide cache keyed by its source, its OpenBLAS wheel pin and its flags:
// `search-blas-<hash>/` holds `search_blas.node` and, in `lib/`, the OpenBLAS it loads by rpath.
// OpenBLAS is the scipy-openblas32 wheel from PyPI (pip download, hash-checked), so no system
// package and no header download from nodejs.org: the Node-API headers are the node-api-headers
// devDependency. Optional: without a compiler, pip or a Linux wheel, setup says why and the search
// keeps its onnxruntime kernel (lib/retrieval/kernel-choice.ts).
// Node built-ins only: infra/setup.cjs runs it, and the search locates the addon with it at runtime.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { cacheRoot, installAtomically, run } = require('./python-venv.cjs');

const SOURCE_DIR = path.join(__dirname, '..', 'native', 'search-blas');
// Every C file and header there: search_blas.c (the kernel, the module), screen.c and screen.h (its
// int8 screen), merge.c, addon.h.
const sources = () => fs.readdirSync(SOURCE_DIR).filter((name) => /\.[ch]$/.test(name)).sort().map((name) => path.join(SOURCE_DIR, name));
const REQUIREMENTS = path.join(SOURCE_DIR, 'requirements.txt');
const WHEEL_PACKAGE = 'scipy_openblas32';
// The wheel's pkg-config Cflags name the prefix; -O3 lets the floor test vectorize.
const CFLAGS = ['-O3', '-std=c11', '-ffp-contract=off', '-Wall', '-Wextra', '-fPIC', '-shared', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-DBLAS_SYMBOL_PREFIX=scipy_'];
const ADDON = 'search_blas.node';

/** The cache folder of the addon this checkout's source builds, whether built or not. */
function addonDir() {
  const hash = crypto.createHash('sha256');
  for (const part of [...sources().flatMap((file) => [path.basename(file), fs.readFileSync(file)]), fs.readFileSync(REQUIREMENTS), CFLAGS.join(' '), process.platform, process.arch]) hash.update(part).update('\0');
  return path.join(cacheRoot(), `search-blas-${hash.digest('hex').slice(0, 12)}`);
}

/** `{ file }` of the built addon, or `{ missing }`: why there is none. */
function locateSearchBlas() {
  try {
    const file = path.join(addonDir(), ADDON);
    return fs.existsSync(file) ? { file } : { missing: `not built for this source (${file}); \`sept build-search-kernel\` builds it (in a checkout, setup does)` };
  } catch (err) {
    return { missing: `its source is not here (${err.message})` };
  }
}

function nodeApiHeaders() {
  try {
    return path.join(path.dirname(require.resolve('node-api-headers/package.json', { paths: [path.join(__dirname, '..')] })), 'include');
  } catch {
    // Official Node builds and distribution packages ship the same headers beside the binary.
    return path.join(path.dirname(process.execPath), '..', 'include', 'node');
  }
}

async function build(dir, log) {
  const wheels = path.join(dir, 'wheel');
  await run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--require-hashes', '--progress-bar', 'off', '-r', REQUIREMENTS, '-d', wheels], { quiet: true });
  const [wheel] = fs.readdirSync(wheels).filter((name) => name.endsWith('.whl'));
  await run('python3', ['-m', 'zipfile', '-e', path.join(wheels, wheel), wheels], { quiet: true });
  const blas = path.join(wheels, WHEEL_PACKAGE);
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.copyFileSync(path.join(blas, 'lib', 'libscipy_openblas.so'), path.join(dir, 'lib', 'libscipy_openblas.so'));
  const cc = process.env.CC || 'cc';
  const args = [...CFLAGS, `-I${path.join(blas, 'include')}`, `-I${nodeApiHeaders()}`, ...sources().filter((file) => file.endsWith('.c')), `-L${path.join(dir, 'lib')}`, '-lscipy_openblas', '-Wl,-rpath,$ORIGIN/lib', '-o', path.join(dir, ADDON)];
  await run(cc, args, { log });
  fs.rmSync(wheels, { recursive: true, force: true });
}

/**
 * The addon's path, built on first use (seconds: an 8 MB wheel and three C files); null, with the
 * reason logged, where it cannot be built here.
 */
async function ensureSearchBlas({ log = () => {} } = {}) {
  const found = locateSearchBlas();
  if (found.file) return found.file;
  if (process.platform !== 'linux') {
    log(`search BLAS kernel: not built on ${process.platform} (its OpenBLAS wheel is Linux's); the exact search uses onnxruntime`);
    return null;
  }
  const dir = addonDir();
  try {
    await installAtomically(dir, (tmpDir) => build(tmpDir, log), log);
  } catch (err) {
    log(`search BLAS kernel: not built (${err.message.slice(0, 2000)}); the exact search uses onnxruntime`);
    return null;
  }
  log(`search BLAS kernel: built ${path.join(dir, ADDON)}`);
  return path.join(dir, ADDON);
}

module.exports = { ensureSearchBlas, locateSearchBlas };

if (require.main === module) {
  ensureSearchBlas({ log: (msg) => console.error(msg) }).then((file) => console.log(file ?? ''));
}
