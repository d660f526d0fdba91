// End to end against a real dev server, LanceDB and onnxruntime-node, with the demo CNN test
// encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { embedShardImages } from '../../../lib/embed/shard-vectors';
import { Embedder } from '../../../lib/embed/embedder';
import { encoderSpecOf } from '../../../lib/encoder/spec';
import { listShards } from '../../../lib/sources/list-shards';
import { DEMO_CNN } from '../../../lib/encoder/test-encoders';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { embedPool } from '../../../workflows/embed-pool';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';
import { demoEmbedConfig, fashionShards, storedVectors } from '../../support/embedding';

describe('embedPool on demo images', () => {
  const temporal = useTestTemporal();
  after(() => Embedder.closeAll());

  it('embeds every sample once, adds nothing on a second run, and stores what a direct embedding gives', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    // Two shards per execution: the 3 shards take two executions joined by continue-as-new.
    const config = await demoEmbedConfig(dir, await fashionShards(3), { embed: { window: 2, shardsPerExecution: 2 } });
    const run = (suffix: string) =>
      withWorkers(temporal, () =>
        temporal.client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: `embed-e2e-${suffix}`, args: [config] }),
      );

    const first = await run('first');
    assert.equal(first.shards, 3);
    assert.equal(first.samplesEmbedded, 3000);
    assert.equal(first.quarantined, 0);
    const dims = DEMO_CNN.dims;
    const stored = await storedVectors(config.store.uri, first.encoderId, dims);
    assert.equal(stored.ids.length, 3000, 'one row per sample');
    assert.equal(new Set(stored.ids).size, 3000, 'no duplicate ids');

    const second = await run('second');
    assert.deepEqual({ ...second, quarantinedByReason: undefined }, { ...first, quarantinedByReason: undefined });
    assert.equal((await storedVectors(config.store.uri, first.encoderId, dims)).ids.length, 3000, 'a second run adds no row');

    // The same images embedded directly, without Temporal or LanceDB.
    const spec = encoderSpecOf(config.encoder);
    let compared = 0;
    for (const shard of await listShards(config.pool.sources[0])) {
      const direct = await embedShardImages(shard, spec);
      direct.ids.forEach((id, i) => {
        const row = stored.byId.get(id);
        assert.ok(row, `no stored vector for ${id}`);
        for (let d = 0; d < dims; d++) assert.ok(Math.abs(row[d] - direct.vectors[i * dims + d]) <= 1e-6, `${id}[${d}] differs`);
        compared++;
      });
    }
    assert.equal(compared, 3000);
  });
});
