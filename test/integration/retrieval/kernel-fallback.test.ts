import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../../lib/paths';

// A process of its own, with an empty cache: the unit tier starts no programs.
describe("the exact search's kernel on a worker without the BLAS addon", () => {
  it('searches with onnxruntime, logging why once, on a worker where setup built no addon', async () => {
    // An empty cache: the addon of this source is not there, as on a machine without a compiler.
    const cache = mkdtempSync(join(tmpdir(), 'septflow-no-blas-'));
    try {
      const script = `
        const { exactSearch } = require('./lib/retrieval/exact-search');
        const { workerSearchKernel } = require('./lib/retrieval/kernel-choice');
        const { closeSearchThreads } = require('./lib/retrieval/search-threads');
        (async () => {
          const pool = async function* () { yield { vectors: Float32Array.of(1, 0, 0, 1, 1, 1), rows: 3, idOf: (r) => 'pool/' + r }; };
          const top = await exactSearch(Float32Array.of(1, 0.1), 2, pool(), { k: 2 });
          await exactSearch(Float32Array.of(0, 1), 2, pool(), { k: 1 });
          console.log(JSON.stringify({ kernel: workerSearchKernel(), ids: top.neighbours(0).map((n) => n.poolId) }));
          await closeSearchThreads();
        })();`;
      const env = { ...process.env, XDG_CACHE_HOME: cache, SEPT_LOG_FORMAT: 'json', SEPT_SEARCH_KERNEL: 'auto' };
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { cwd: projectRoot, env });
      const lines = stdout.trim().split('\n');
      assert.deepEqual(JSON.parse(lines.pop()!), { kernel: 'onnx', ids: ['pool/0', 'pool/2'] });
      const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => /BLAS kernel cannot load/.test(entry.msg));
      assert.equal(warnings.length, 1, stdout);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
