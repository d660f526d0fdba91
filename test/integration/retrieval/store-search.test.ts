import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { connect, type Table } from '@lancedb/lancedb';
import { annIndexReady, annParams, annSearch, ensureAnnIndex } from '../../../lib/retrieval/ann';
import { exactSearch } from '../../../lib/retrieval/exact-search';
import { scanPool } from '../../../lib/retrieval/pool-scan';
import { clusteredVectors } from '../../../lib/retrieval/synthetic';
import { shardFilter, vectorsById } from '../../../lib/retrieval/vector-store';
import { selectByClusters, storeClusterInput } from '../../../lib/selection/cluster-policy';
import { selectByPolicy } from '../../../lib/selection/policy';
import { candidateLists } from '../../support/candidate-lists';
import { tempDir } from '../../support/tmp';
import { bruteForceTopK } from '../../support/search-oracle';
import { poolRows, writeVectors } from '../../support/pool-table';

// Synthetic clustered vectors of the demo pool's size and the demo encoder's dimension (the
// embedding stage's real demo vectors are used by the composition test).
const DIM = 64;
const POOL = 80_000;
const K = 50;

describe('search over a LanceDB pool table', () => {
  let table: Table;
  const pool = clusteredVectors({ count: POOL, dim: DIM, centers: 400, seed: 21, spread: 0.8 });
  const rows = poolRows('pool', POOL);
  const targets = clusteredVectors({ count: 400, dim: DIM, centers: 400, seed: 22, spread: 0.8 }).vectors;

  const dir = tempDir();
  before(async () => {
    ({ table } = await writeVectors(dir, 'enc', { ...rows, vectors: pool.vectors, dim: DIM }));
  });

  it('exact search over streamed blocks of a partition equals the oracle on that partition', async () => {
    // Partition: the first 7 shards only, through the shard filter.
    const shardIds = [...new Set(rows.shards)].slice(0, 7);
    const n = 7000;
    const top = await exactSearch(targets.subarray(0, 50 * DIM), DIM, scanPool(table, { filter: shardFilter(shardIds), blockRows: 3000, dim: DIM }), { k: 20 });
    const oracle = bruteForceTopK(targets.subarray(0, 50 * DIM), pool.vectors.subarray(0, n * DIM), rows.ids.slice(0, n), DIM, 20);
    for (let t = 0; t < 50; t++) assert.deepEqual(top.neighbours(t).map((x) => x.poolId), oracle[t].map((x) => x.poolId), `target ${t}`);
  });

  it('streams the pool in blocks that ramp up from an eighth of blockRows, every row once, in order', async () => {
    const shardIds = [...new Set(rows.shards)].slice(0, 7);
    const sizes: number[] = [];
    const ids: string[] = [];
    for await (const block of scanPool(table, { filter: shardFilter(shardIds), blockRows: 3000, dim: DIM })) {
      sizes.push(block.rows);
      assert.equal(block.vectors.length, block.rows * DIM);
      for (let r = 0; r < block.rows; r++) ids.push(block.idOf(r));
    }
    assert.deepEqual(sizes, [375, 750, 1500, 3000, 1375]);
    assert.deepEqual(ids, rows.ids.slice(0, 7000));
  });

  it('reads target vectors by id, reports missing ids, refuses another encoder’s rows', async () => {
    const { vectors, missing } = await vectorsById(table, 'enc', [rows.ids[5], 'pool/nope', rows.ids[2]], DIM);
    assert.deepEqual(missing, ['pool/nope']);
    assert.deepEqual(vectors.subarray(0, DIM), pool.vectors.subarray(5 * DIM, 6 * DIM));
    await assert.rejects(vectorsById(table, 'other-encoder', [rows.ids[0]], DIM), /encoder mismatch: target pool\/0000000 was embedded by encoder enc, the pool by other-encoder/);
    await assert.rejects(vectorsById(table, 'enc', [rows.ids[0]], 128), /dimension 64, pool vectors 128/);
  });

  it('the cluster policy streams only the pool’s rows of a table that holds others too, and draws in proportion', async () => {
    // Six well-separated groups; 4 train targets in group 0 and 4 in group 1 share the budget half and half.
    const groups = clusteredVectors({ count: 6000, dim: DIM, centers: 6, seed: 31, spread: 0.15 });
    const near = clusteredVectors({ count: 300, dim: DIM, centers: 6, seed: 32, spread: 0.15 });
    const picks = [0, 1].flatMap((g) => [...near.clusters.keys()].filter((i) => near.clusters[i] === g).slice(0, 4));
    const poolPart = poolRows('pool', 6000);
    // Rows of another source in the same table, copies of group 0's: the shard filter must keep them out.
    const other = poolRows('other', 2000);
    const targetRows = { ids: picks.map((_, t) => `target/${t}`), shards: picks.map(() => 'target/shard-0000') };
    const clusterDir = tempDir();
    await writeVectors(clusterDir, 'enc', { ...poolPart, vectors: groups.vectors, dim: DIM });
    await writeVectors(clusterDir, 'enc', { ...other, vectors: groups.vectors.subarray(0, 2000 * DIM), dim: DIM });
    const { table: mixed } = await writeVectors(clusterDir, 'enc', { ...targetRows, vectors: Float32Array.from(picks.flatMap((p) => [...near.vectors.subarray(p * DIM, (p + 1) * DIM)])), dim: DIM });

    const input = await storeClusterInput(mixed, { encoderId: 'enc', dim: DIM, tableHasOtherRows: true }, [...new Set(poolPart.shards)], targetRows.ids, 1000);
    const policy = { policy: 'cluster' as const, budget: 400, k: 5, balanceClasses: false, cluster: { clusters: 6, sampleRows: 2000, iterations: 20, seed: 0 } };
    const candidates = candidateLists(targetRows.ids.map((targetId) => ({ targetId, neighbours: [] })));
    const s = await selectByClusters(candidates, policy, { leaked: new Set(), targetIds: new Set(targetRows.ids) }, input);
    assert.equal(s.samples.length, 400);
    assert.ok(s.samples.every((x) => x.poolId.startsWith('pool/')), 'only the pool’s rows are drawn');
    const perGroup = [0, 1].map((g) => s.samples.filter((x) => groups.clusters[Number(x.poolId.slice(5))] === g).length);
    assert.deepEqual(perGroup, [200, 200]);
  });

  it('the default ANN index reaches recall@k >= 0.95 and selection overlap >= 0.95 against exact search', async () => {
    const params = annParams(POOL, DIM);
    assert.equal((await ensureAnnIndex(table, params)).built, true);
    assert.equal((await ensureAnnIndex(table, params)).built, false, 'reused while the table is unchanged');
    assert.equal(await annIndexReady(table, params), true);

    const exact = await exactSearch(targets, DIM, scanPool(table, { blockRows: 32768, dim: DIM }), { k: K });
    const ann = await annSearch(table, targets, DIM, { k: K, params });
    let found = 0;
    for (let t = 0; t < 400; t++) {
      const truth = new Set(exact.neighbours(t).map((n) => n.poolId));
      found += ann[t].filter((n) => truth.has(n.poolId)).length;
    }
    const recall = found / (400 * K);
    assert.ok(recall >= 0.95, `recall@${K} ${recall}`);
    // 400 targets went 64 to a LanceDB call (the last call 16): each list is its own query's.
    const single = await annSearch(table, targets.subarray(0, 100 * DIM), DIM, { k: K, params, queriesPerCall: 1 });
    const ids = (lists: { poolId: string }[][]) => lists.map((l) => l.map((n) => n.poolId));
    assert.deepEqual(ids(ann.slice(0, 100)), ids(single), 'the same neighbours, one query a call or 64');

    const policy = { policy: 'budget' as const, budget: 5000, k: K, balanceClasses: false };
    const none = { leaked: new Set<string>(), targetIds: new Set<string>() };
    const asTargets = (lists: { poolId: string; distance: number }[][]) => lists.map((neighbours, t) => ({ targetId: `t/${t}`, neighbours }));
    const fromExact = await selectByPolicy(candidateLists(asTargets(Array.from({ length: 400 }, (_, t) => exact.neighbours(t)))), policy, none);
    const fromAnn = await selectByPolicy(candidateLists(asTargets(ann)), policy, none);
    const exactIds = new Set(fromExact.samples.map((s) => s.poolId));
    const overlap = fromAnn.samples.filter((s) => exactIds.has(s.poolId)).length / fromExact.samples.length;
    assert.ok(overlap >= 0.95, `selection overlap ${overlap}`);

    // Rows added after the build leave the index stale: it is no longer reused.
    const more = poolRows('pool', 10, POOL);
    await writeVectors(dir, 'enc', { ...more, vectors: pool.vectors.subarray(0, 10 * DIM), dim: DIM });
    assert.equal(await annIndexReady(await (await connect(dir)).openTable(table.name), params), false);
  });
});
