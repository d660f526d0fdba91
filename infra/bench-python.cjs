'use strict';
// Provides a Python interpreter with bench/requirements.txt installed (FAISS, numpy): what
// bench:retrieval measures septflow's search against. Its own small venv, so the trainer's is never
// changed for a benchmark.

const path = require('node:path');
const { ensureCachedVenv } = require('./python-venv.cjs');

async function ensureBenchPython({ projectRoot, log = () => {} }) {
  const venvDir = await ensureCachedVenv({ name: 'bench', requirements: path.join(projectRoot, 'bench', 'requirements.txt'), note: 'faiss-cpu and numpy, about 160 MB', log });
  return path.join(venvDir, 'bin', 'python');
}

module.exports = { ensureBenchPython };

if (require.main === module) {
  ensureBenchPython({ projectRoot: path.resolve(__dirname, '..'), log: (msg) => console.error(msg) })
    .then((python) => console.log(python))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
