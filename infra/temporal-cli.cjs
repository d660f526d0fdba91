'use strict';
// Locates the Temporal CLI, building the pinned version from source when none is found.
// Plain CommonJS with Node built-ins only: setup runs it before `npm ci` has installed anything.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { findBinary } = require('./system-packages.cjs');

// v1.5.1 is the newest tag that `go install` accepts: later tags carry `replace` directives.
const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

const projectRoot = path.resolve(__dirname, '..');
const projectBin = path.join(projectRoot, '.tools', 'bin', 'temporal');

function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'septflow', `temporal-cli-${TEMPORAL_CLI_VERSION}`);
}


/** The CLI to use without building anything, or undefined. */
function findTemporalCli() {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv}: no such file`);
    return fromEnv;
  }
  if (fs.existsSync(projectBin)) return projectBin;
  return findBinary('temporal');
}

function linkIntoProject(binary) {
  fs.mkdirSync(path.dirname(projectBin), { recursive: true });
  fs.rmSync(projectBin, { force: true });
  fs.symlinkSync(binary, projectBin);
}

/** Returns the CLI path; builds it with `go install` into a version-keyed cache when missing. */
function ensureTemporalCli(log = (msg) => console.error(msg)) {
  const found = findTemporalCli();
  if (found) return found;
  const cached = path.join(cacheDir(), 'temporal');
  if (!fs.existsSync(cached)) {
    const go = findBinary('go');
    if (!go) {
      throw new Error(
        `No Temporal CLI found (TEMPORAL_CLI, PATH, ${projectBin}) and no Go toolchain to build ` +
          `${MODULE}@${TEMPORAL_CLI_VERSION}. Install Go >= 1.23 or set TEMPORAL_CLI.`,
      );
    }
    // Build into a temporary folder and rename, so an interrupted build is never taken as done.
    fs.mkdirSync(path.dirname(cacheDir()), { recursive: true });
    const staging = fs.mkdtempSync(path.join(path.dirname(cacheDir()), '.temporal-build-'));
    log(`[setup] building Temporal CLI ${TEMPORAL_CLI_VERSION} from source (first run only, a few minutes)...`);
    const started = Date.now();
    const res = spawnSync(go, ['install', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (res.status !== 0) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw new Error(`go install ${MODULE}@${TEMPORAL_CLI_VERSION} failed (exit ${res.status})`);
    }
    fs.rmSync(cacheDir(), { recursive: true, force: true });
    fs.renameSync(staging, cacheDir());
    log(`[setup] Temporal CLI built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${cached}`);
  }
  linkIntoProject(cached);
  return projectBin;
}

function temporalCliVersion(cli) {
  return execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
}

module.exports = { TEMPORAL_CLI_VERSION, findTemporalCli, ensureTemporalCli, temporalCliVersion };

if (require.main === module) {
  const cli = ensureTemporalCli();
  console.log(cli);
}
