// bench/gpu-check.sh --cpu: the GPU check's CPU side end to end at small sizes (the small demo
// models, a tiny encoder, a 100k pool), so that the script a GPU machine runs is known to work
// before one is lent. Figures are checked for presence, never for speed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../../lib/paths';

describe('bench/gpu-check.sh --cpu', () => {
  it('measures every CPU figure and prints them as one JSON object on its last line', { timeout: 180_000 }, () => {
    const res = spawnSync('bash', [join(projectRoot, 'bench', 'gpu-check.sh'), '--cpu'], { cwd: projectRoot, encoding: 'utf8', timeout: 170_000 });
    assert.equal(res.status, 0, `exit ${res.status ?? res.signal}\n${res.stderr}`);
    const figures = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(figures.mode, 'cpu');
    assert.equal(figures.errors, undefined);
    for (const name of ['mae_cpu_images_per_s', 'simclr_cpu_images_per_s', 'embed_cpu_images_per_s', 'search_cpu_gflops']) {
      const value = figures[name];
      assert.ok(typeof value === 'number' && value > 0, `${name}: ${value}`);
    }
    assert.ok(!Object.keys(figures).some((name) => name.includes('_gpu_')), 'no GPU figure on --cpu');
    assert.match(res.stderr, /\[gpu-check\] mae vit_tiny at 28 px, batch 32, on cpu: [\d.]+ images\/s/);
  });
});
