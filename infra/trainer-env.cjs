'use strict';
// Provides a Python interpreter that can run the reference trainer (trainer/).
// The venv lives in a machine-wide cache keyed by the requirements' hash, so every checkout and
// worktree on a machine shares one multi-GB torch install, and a changed requirements file gets a
// fresh venv instead of mutating one that a running trainer may be using.

const fs = require('node:fs');
const path = require('node:path');
const { ensureCachedVenv, run } = require('./python-venv.cjs');

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

/**
 * Compiles the reference trainer's modules here, as pip compiles an installed package's (only those
 * changed since): a sept-gpu worker's trainer then writes nothing into the checkout when it first
 * imports them, and the forkserver's jobs find them compiled.
 */
async function compileTrainer(python, projectRoot) {
  await run(python, ['-m', 'compileall', '-q', path.join(projectRoot, 'trainer', 'septtrainer')], { quiet: true });
}

async function ensureTrainerPython({ projectRoot, log = () => {} }) {
  const explicit = process.env.SEPT_TRAINER_PYTHON;
  if (explicit) {
    await verifyTorch(explicit);
    await compileTrainer(explicit, projectRoot);
    log(`trainer python (SEPT_TRAINER_PYTHON): ${explicit}`);
    return explicit;
  }

  const venvDir = await ensureCachedVenv({
    name: 'trainer',
    requirements: path.join(projectRoot, 'trainer', 'requirements.txt'),
    note: 'torch is a multi-GB download; this takes minutes',
    log,
  });
  const python = path.join(venvDir, 'bin', 'python');
  await compileTrainer(python, projectRoot);
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
