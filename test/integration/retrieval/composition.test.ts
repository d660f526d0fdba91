import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunConfigInput } from '../../../lib/config/schema';
import { RunLayout } from '../../../lib/run-layout';
import { Embedder } from '../../../lib/embed/embedder';
import { DEMO_CNN, ensureTestEncoder } from '../../../lib/encoder/test-encoders';
import { seededRandom } from '../../../lib/retrieval/synthetic';
import { sourceOf } from '../../../lib/selection/stats';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { embedPool } from '../../../workflows/embed-pool';
import type { selectSubset } from '../../../workflows/select-subset';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';
import { demoRows } from '../../support/demo-pool';

// Real demo embeddings: the pool is embedded by the embedding stage (embedPool) with the demo CNN
// test encoder, whose weights are RANDOM (no trained encoder ships yet); selectSubset then embeds
// the target's test images itself (a child embedPool) and selects. Even random conv features tell
// handwritten digits from clothing, which is what this test measures.
describe('composition of the subset on real demo embeddings', () => {
  const temporal = useTestTemporal();
  // The embedding stage's threads would keep this test process alive.
  after(() => Embedder.closeAll());
  const dir = tempDir();
  let config: RunConfigInput;

  before(async () => {
    config = {
      name: 'compose',
      // 10,000 Fashion-MNIST and ~8,600 MNIST images: a random subset is about half MNIST.
      pool: {
        sources: [
          { kind: 'demo', dataset: 'fashion-mnist', split: 'test' },
          { kind: 'demo', dataset: 'mnist', split: 'train' },
        ],
      },
      target: { preset: 'mnist', labelsPerClass: 20 },
      encoder: { model: await ensureTestEncoder(DEMO_CNN, join(dir, 'encoders')), batchSize: 256 },
      store: { uri: join(dir, 'lancedb') },
      outputDir: join(dir, 'runs'),
      // The random-weight encoder's features are all positive, so every cosine is close to 1: the
      // guard's default 0.98 would call most of the pool a duplicate. Only near-copies count here.
      retrieval: { budget: 2000, k: 20, leakageGuard: { threshold: 0.9999 }, contactSheet: { targets: 10, neighbours: 8 } },
    };
  });

  it('takes the subset from the target’s own dataset, far above a random subset of the same size', async () => {
    const result = await withWorkers(temporal, async () => {
      await temporal.client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: 'test/compose-embed', args: [config] });
      return temporal.client.workflow.execute<typeof selectSubset>('selectSubset', { taskQueue: CPU_QUEUE, workflowId: 'test/compose-select', args: [config] });
    });
    assert.equal(result.stats.size, 2000);
    const own = (result.stats.perSource.mnist ?? 0) / result.stats.size;

    const pool = [...(await demoRows({ kind: 'demo', dataset: 'fashion-mnist', split: 'test' })).ids, ...(await demoRows({ kind: 'demo', dataset: 'mnist', split: 'train' })).ids];
    const random = seededRandom(7);
    const sample = Array.from({ length: 2000 }, () => pool[Math.floor(random() * pool.length)]);
    const randomOwn = sample.filter((id) => sourceOf(id) === 'mnist').length / sample.length;

    assert.ok(own >= 0.9, `share of the subset from MNIST: ${own}`);
    assert.ok(own - randomOwn >= 0.35, `selected ${own} vs random ${randomOwn}`);
    // Target instances themselves never enter the subset.
    const manifest = readFileSync(result.outputs.manifest, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    const targets = readFileSync(new RunLayout(join(dir, 'runs'), 'compose').selection.targets, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    const targetSet = new Set(targets);
    assert.ok(!manifest.some((id) => targetSet.has(id)));
    console.log(`# composition: ${(own * 100).toFixed(1)}% MNIST selected vs ${(randomOwn * 100).toFixed(1)}% in a random subset; path ${result.plan.path}`);
  });
});
