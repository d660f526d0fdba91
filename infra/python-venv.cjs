'use strict';
// A Python venv built from a pinned requirements file, in a machine-wide cache keyed by the file's
// hash: every checkout and worktree on a machine shares one install, and a changed requirements
// file gets a fresh venv instead of mutating one that a running process may be using.
// Node built-ins only: infra/setup.cjs runs it before the npm packages are installed.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function run(cmd, args, { log, quiet } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (!quiet && log) {
        for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'septflow');
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// Interrupted installs leave multi-GB temporary dirs; reclaim those whose installer is gone.
function removeAbandonedInstalls(root, venvName, log) {
  if (!fs.existsSync(root)) return;
  const prefix = `${venvName}.tmp-`;
  for (const name of fs.readdirSync(root)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && processAlive(pid)) continue;
    log(`removing abandoned install ${path.join(root, name)}`);
    fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}

/**
 * Makes the cache folder `dir` with `install(tmpDir)` in a temporary folder beside it, renamed into
 * place when complete: a crash never leaves half an install under the final name. Another process
 * that finished the same install first wins; its folder is as good as ours.
 */
async function installAtomically(dir, install, log = () => {}) {
  const root = path.dirname(dir);
  fs.mkdirSync(root, { recursive: true });
  removeAbandonedInstalls(root, path.basename(dir), log);
  const tmpDir = path.join(root, `${path.basename(dir)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(tmpDir);
  try {
    await install(tmpDir);
    fs.renameSync(tmpDir, dir);
  } catch (err) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  }
}

// venv and pip write the venv's absolute path into bin/ (shebangs, activate scripts); rewrite
// them so the venv works under its final name after the rename.
function relocateVenvScripts(fromDir, toDir) {
  const binDir = path.join(fromDir, 'bin');
  for (const name of fs.readdirSync(binDir)) {
    const file = path.join(binDir, name);
    const stat = fs.lstatSync(file);
    if (!stat.isFile() || stat.size > 1 << 20) continue;
    const text = fs.readFileSync(file);
    if (!text.includes(fromDir)) continue;
    fs.writeFileSync(file, text.toString('utf8').split(fromDir).join(toDir), { mode: stat.mode });
  }
}

/**
 * The venv `<name>-venv-<hash of requirements>` under the cache, created on first use; resolves to
 * its directory. `note` is logged while creating it (say how long the download takes).
 */
async function ensureCachedVenv({ name, requirements, note = '', log = () => {} }) {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(requirements)).digest('hex').slice(0, 12);
  const root = cacheRoot();
  const venvName = `${name}-venv-${hash}`;
  const venvDir = path.join(root, venvName);
  if (fs.existsSync(path.join(venvDir, 'bin', 'python'))) return venvDir;

  fs.mkdirSync(root, { recursive: true });
  removeAbandonedInstalls(root, venvName, log);
  const tmpDir = path.join(root, `${venvName}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const started = Date.now();
  log(`creating ${name} venv ${venvDir}${note ? ` (${note})` : ''}`);
  await run('python3', ['-m', 'venv', '--prompt', venvName, tmpDir], { log });
  await run(path.join(tmpDir, 'bin', 'python'), ['-m', 'pip', 'install', '--progress-bar', 'off', '-r', requirements], { log });
  relocateVenvScripts(tmpDir, venvDir);
  try {
    fs.renameSync(tmpDir, venvDir);
  } catch (err) {
    // Another process finished the same venv first; theirs is as good as ours.
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  log(`${name} venv ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return venvDir;
}

module.exports = { cacheRoot, ensureCachedVenv, installAtomically, removeAbandonedInstalls, run };
