// End to end against a real dev server, LanceDB and onnxruntime-node, with the demo CNN test
// encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { readShardPageToEmbed } from '../../../activities/embed';
import { poolPerSource } from '../../../lib/pipeline/pool-composition';
import { writeLocation } from '../../../lib/storage/location';
import { ensureEncoderTables } from '../../../lib/vectors/tables';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import type { RunConfig } from '../../../lib/config/schema';
import { parseRunConfig } from '../../../lib/config/validate';
import { embedShardImages } from '../../../lib/embed/shard-vectors';
import { Embedder } from '../../../lib/embed/embedder';
import { encoderSpecOf } from '../../../lib/encoder/spec';
import { listShards } from '../../../lib/sources/list-shards';
import { DEMO_CNN } from '../../../lib/encoder/test-encoders';
import { openVectors, vectorsById } from '../../../lib/retrieval/vector-store';
import { planSelection } from '../../../lib/selection/plan';
import { openStore } from '../../../lib/vectors/connect';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { EmbedPoolCarry, embedPool } from '../../../workflows/embed-pool';
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

    // Counted from the encoder's shards table, as the report and the experiment count the pool.
    assert.deepEqual(await poolPerSource(config.store.uri, first.encoderId, config.pool.sources), { 'fashion-mnist': 3000 });
    // The second execution was handed a plan with offsets beside it: its pages are read by byte range.
    const history = await temporal.client.workflow.getHandle('embed-e2e-first').fetchHistory();
    const [, carry] = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!.map((p) => JSON.parse(Buffer.from(p.data!).toString()) as EmbedPoolCarry);
    assert.deepEqual({ ...carry.plan, path: undefined }, { path: undefined, total: 3, bytes: readFileSync(carry.plan.path).length });

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

  it('embeds a target image replaced in place again: its vector changes, its row stays one, and selection sees it', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    // A target as people keep it: class folders of PNGs, 28x28 noise (each file distinct).
    let seed = 1;
    const png = () => sharp(Buffer.from(Array.from({ length: 28 * 28 }, () => (seed = (seed * 48271) % 2147483647) % 256)), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
    const image = async (path: string) => {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, await png());
    };
    for (const file of ['train/0/a.png', 'train/0/b.png', 'train/1/c.png', 'train/1/d.png', 'test/0/e.png', 'test/1/f.png']) await image(join(dir, 'pets', file));
    const base = await demoEmbedConfig(dir, await fashionShards(1));
    const config: RunConfig = parseRunConfig({
      ...base,
      target: { train: { kind: 'folder', name: 'pets-train', path: join(dir, 'pets', 'train'), shardSize: 2 }, test: { kind: 'folder', name: 'pets-test', path: join(dir, 'pets', 'test') } },
      retrieval: { budget: 20, k: 10 },
    });
    // What selectSubset runs for target images (its embed-target child): embedPool over the target's sources.
    const embed = (workflowId: string, sources: RunConfig['pool']['sources']) =>
      withWorkers(temporal, () => temporal.client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId, args: [{ ...config, pool: { sources } }] }));
    const targets = [config.target.train, config.target.test];
    const pool = await embed('content-pool', config.pool.sources);
    await embed('content-target-1', targets);
    const vectorsOf = async () => {
      const stored = await storedVectors(config.store.uri, pool.encoderId, DEMO_CNN.dims);
      assert.equal(new Set(stored.ids).size, stored.ids.length, 'one row per sample');
      return stored;
    };
    const before = await vectorsOf();
    assert.equal(before.ids.length, 1006);
    assert.equal((await planSelection(config)).missingTargetVectors, 0);

    await image(join(dir, 'pets', 'train', '1', 'c.png'));
    assert.equal((await planSelection(config)).missingTargetVectors, 2, 'the changed shard (c, d) is to be embedded again');
    const second = await embed('content-target-2', targets);
    assert.equal(second.samplesEmbedded, 6);
    const after = await vectorsOf();
    assert.equal(after.ids.length, 1006, 'the row count is unchanged');
    const differs = (a: Float32Array, b: Float32Array) => a.some((v, d) => Math.abs(v - b[d]) > 1e-6);
    assert.ok(differs(after.byId.get('pets-train/1/c')!, before.byId.get('pets-train/1/c')!), 'the replaced image has a new vector');
    assert.ok(!differs(after.byId.get('pets-train/1/d')!, before.byId.get('pets-train/1/d')!), 'its shard neighbour embeds as before');
    assert.equal((await planSelection(config)).missingTargetVectors, 0);
    const table = await openVectors(await openStore(config.store.uri), pool.encoderId);
    const { vectors } = await vectorsById(table, pool.encoderId, ['pets-train/1/c'], DEMO_CNN.dims);
    assert.ok(!differs(vectors, after.byId.get('pets-train/1/c')!), 'selection reads the new vector');

    // A file added in front shifts every later image into another shard: each still has one row.
    await image(join(dir, 'pets', 'train', '0', '0.png'));
    await embed('content-target-3', targets);
    const grown = await vectorsOf();
    assert.equal(grown.ids.length, 1007);
    assert.ok(!differs(grown.byId.get('pets-train/1/c')!, after.byId.get('pets-train/1/c')!));
  });

  it('refuses a page of shards too heavy for one payload, naming embed.shardsPerExecution, not retryable', async () => {
    const dir = tempDir();
    const config = await demoEmbedConfig(dir, await fashionShards(1));
    const destination = { encoder: config.encoder, encoderId: 'heavy-page', dims: 4, store: config.store.uri };
    await ensureEncoderTables(await openStore(destination.store), destination.encoderId, destination.dims);
    // Three shards at paths of half a megabyte each: a page of them is over half of Temporal's 2 MB.
    const path = join(dir, 'embed-shards.jsonl');
    const shards = [0, 1, 2].map((i) => ({ id: `pool/${i}`, source: 'pool', path: `/pool/${'deep/'.repeat(100_000)}${i}.tar`, bytes: 10, version: 'v1' }));
    await writeLocation(path, shards.map((s) => `${JSON.stringify(s)}\n`).join(''));
    await assert.rejects(readShardPageToEmbed({ path, total: 3 }, 0, 3, destination, { maxBytes: 1e9, window: 1 }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /^invalid run configuration: embed\.shardsPerExecution: a page of 3 shards is 1,50\d,\d{3} bytes, more than the 1,048,576 one payload may carry here/);
      return true;
    });
  });
});
