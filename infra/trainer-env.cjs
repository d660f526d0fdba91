'use strict';
// Provides a Python interpreter that can run the reference trainer (trainer/).
// The venv lives in a machine-wide cache keyed by the requirements' hash, so every checkout and
// worktree on a machine shares one multi-GB torch install, and a changed requirements file gets a
// fresh venv instead of mutating one that a running trainer may be using.

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

function linkProjectVenv(projectRoot, venvDir) {
  const link = path.join(projectRoot, '.venv-trainer');
  const tmpLink = `${link}.tmp-${process.pid}`;
  fs.rmSync(tmpLink, { force: true });
  fs.symlinkSync(venvDir, tmpLink);
  fs.renameSync(tmpLink, link);
}

async function verifyTorch(python) {
  try {
    await run(python, ['-c', 'import torch'], { quiet: true });
  } catch (err) {
    throw new Error(`SEPT_TRAINER_PYTHON=${python} cannot import torch: ${err.message}`);
  }
}

async function ensureTrainerPython({ projectRoot, log = () => {} }) {
  const explicit = process.env.SEPT_TRAINER_PYTHON;
  if (explicit) {
    await verifyTorch(explicit);
    log(`trainer python (SEPT_TRAINER_PYTHON): ${explicit}`);
    return explicit;
  }

  const requirements = path.join(projectRoot, 'trainer', 'requirements.txt');
  const hash = crypto.createHash('sha256').update(fs.readFileSync(requirements)).digest('hex').slice(0, 12);
  const root = cacheRoot();
  const venvName = `trainer-venv-${hash}`;
  const venvDir = path.join(root, venvName);
  const python = path.join(venvDir, 'bin', 'python');

  if (!fs.existsSync(python)) {
    fs.mkdirSync(root, { recursive: true });
    removeAbandonedInstalls(root, venvName, log);
    const tmpDir = path.join(root, `${venvName}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    const started = Date.now();
    log(`creating trainer venv ${venvDir} (torch is a multi-GB download; this takes minutes)`);
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
    log(`trainer venv ready in ${Math.round((Date.now() - started) / 1000)} s`);
  }

  linkProjectVenv(projectRoot, venvDir);
  log(`trainer python: ${python}`);
  return python;
}

module.exports = { ensureTrainerPython };

if (require.main === module) {
  ensureTrainerPython({ projectRoot: path.resolve(__dirname, '..'), log: (msg) => console.error(msg) })
    .then((python) => console.log(python))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
