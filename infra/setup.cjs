'use strict';
// `npm start` and `npm test` run this first: it installs whatever is missing and builds dist/ when
// stale, and nothing else.
// Node built-ins only, because it runs before the npm packages are installed.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ensureBuild } = require('./build.cjs');
const { ensureCudaProvider } = require('./onnxruntime-cuda.cjs');
const { ensureSearchBlas } = require('./search-blas.cjs');
const { ensureTemporalCli } = require('./temporal-cli.cjs');
const { ensureTrainerPython } = require('./trainer-env.cjs');

const root = path.resolve(__dirname, '..');
const log = (msg) => console.error(msg);

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    throw new Error(`Node ${process.versions.node} is too old: septflow needs Node >= 20.19`);
  }
}

function npmPackagesCurrent() {
  // npm writes node_modules/.package-lock.json on every install; older than the lockfile means stale.
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  if (!fs.existsSync(installed)) return false;
  return fs.statSync(installed).mtimeMs >= fs.statSync(path.join(root, 'package-lock.json')).mtimeMs;
}

function ensureNpmPackages() {
  if (npmPackagesCurrent()) return;
  log('[setup] installing npm packages (npm ci)...');
  const res = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    // CPU inference ships in onnxruntime-node; its postinstall would fetch CUDA binaries.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (res.status !== 0) throw new Error(`npm ci failed (exit ${res.status})`);
}

async function timed(what, step) {
  const started = Date.now();
  const result = await step();
  const secs = (Date.now() - started) / 1000;
  if (secs > 1) log(`[setup] ${what}: ${secs.toFixed(0)} s`);
  return result;
}

async function main() {
  checkNode();
  await timed('npm packages', ensureNpmPackages);
  await timed('build', () => ensureBuild(log));
  await timed('search BLAS kernel', () => ensureSearchBlas({ log }));
  await timed('Temporal CLI', () => ensureTemporalCli(log));
  await timed('trainer environment', () => ensureTrainerPython({ projectRoot: root, log }));
  // GPU workers only: `--cuda` or SEPT_SETUP_CUDA=1 asks for onnxruntime's CUDA execution provider.
  if (process.argv.includes('--cuda') || process.env.SEPT_SETUP_CUDA === '1') {
    await timed('CUDA execution provider', () => ensureCudaProvider({ log }));
  }
}

main().catch((err) => {
  console.error(`[setup] ${err.message}`);
  process.exit(1);
});
