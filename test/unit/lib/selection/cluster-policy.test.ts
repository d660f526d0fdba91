import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PoolBlock } from '../../../../lib/retrieval/exact-search';
import { clusteredVectors } from '../../../../lib/retrieval/synthetic';
import { type ClusterInput, clusterQuotas, selectByClusters } from '../../../../lib/selection/cluster-policy';
import type { SelectionPolicy, TargetNeighbours } from '../../../../lib/selection/types';
import { candidateLists } from '../../../support/candidate-lists';

const DIM = 16;
const POOL = 3000;
// Six well-separated groups; the targets are drawn around the same centres (clusteredVectors shares them across seeds).
const pool = clusteredVectors({ count: POOL, dim: DIM, centers: 6, spread: 0.15, seed: 21 });
const poolIds = Array.from({ length: POOL }, (_, i) => `pool/${String(i).padStart(5, '0')}`);
const drawn = clusteredVectors({ count: 400, dim: DIM, centers: 6, spread: 0.15, seed: 22 });
// 6 targets of group A, 3 of group B, 1 of group C: the budget goes 60% / 30% / 10%.
const groups = [0, 1, 2].map((g) => [...drawn.clusters.keys()].filter((i) => drawn.clusters[i] === g));
const picks = [...groups[0].slice(0, 6), ...groups[1].slice(0, 3), groups[2][0]];
const targetVectors = new Float32Array(picks.length * DIM);
picks.forEach((p, t) => targetVectors.set(drawn.vectors.subarray(p * DIM, (p + 1) * DIM), t * DIM));
const groupOfTarget = picks.map((p) => drawn.clusters[p]);

/** Each target's 5 nearest pool images, by brute force: the hits that explain the drawn samples. */
const lists: TargetNeighbours[] = picks.map((_, t) => {
  const scored = poolIds.map((poolId, r) => {
    let dot = 0;
    for (let j = 0; j < DIM; j++) dot += targetVectors[t * DIM + j] * pool.vectors[r * DIM + j];
    return { poolId, distance: 1 - dot };
  });
  return { targetId: `target/${t}`, label: `g${groupOfTarget[t]}`, neighbours: scored.sort((a, b) => a.distance - b.distance).slice(0, 5) };
});

/** The pool streamed in blocks of 250 rows, every block written into the same buffer: a policy that kept a block would see it overwritten. */
function streamed(order: 'forward' | 'backward' = 'forward'): ClusterInput & { passes: number } {
  const firsts = Array.from({ length: POOL / 250 }, (_, b) => b * 250);
  if (order === 'backward') firsts.reverse();
  const input = {
    passes: 0,
    dim: DIM,
    targets: targetVectors,
    async *scan(): AsyncGenerator<PoolBlock> {
      input.passes++;
      const buffer = new Float32Array(250 * DIM);
      for (const first of firsts) {
        buffer.set(pool.vectors.subarray(first * DIM, (first + 250) * DIM));
        yield { rows: 250, vectors: buffer, idOf: (row) => poolIds[first + row] };
      }
      buffer.fill(NaN);
    },
  };
  return input;
}

const none = { leaked: new Set<string>(), targetIds: new Set<string>() };
const policy = (cluster: Partial<NonNullable<SelectionPolicy['cluster']>> = {}, budget = 100): SelectionPolicy => ({
  policy: 'cluster',
  budget,
  k: 5,
  balanceClasses: false,
  cluster: { clusters: 6, sampleRows: 1000, iterations: 20, seed: 0, ...cluster },
});
const groupOfPool = (id: string) => pool.clusters[Number(id.slice(5))];

describe('the cluster policy', () => {
  it('shares the budget by largest remainder, in proportion to the targets per cluster', () => {
    assert.deepEqual([...clusterQuotas(Uint32Array.from([3, 1, 0, 2]), 10)], [5, 2, 0, 3]);
    assert.deepEqual([...clusterQuotas(Uint32Array.from([1, 1, 1]), 2)], [1, 1, 0]);
    assert.equal(clusterQuotas(Uint32Array.from([7, 5, 3, 1]), 8000).reduce((n, q) => n + q, 0), 8000);
  });

  it('draws each cluster’s quota from the pool images of that cluster, in two streamed passes', async () => {
    const input = streamed();
    const s = await selectByClusters(candidateLists(lists), policy(), none, input);
    assert.equal(input.passes, 2, 'one pass for the sample, one for the draw');
    assert.equal(s.samples.length, 100);
    assert.equal(s.shortfall, 0);
    const perGroup = new Map<number, number>();
    for (const x of s.samples) perGroup.set(groupOfPool(x.poolId), (perGroup.get(groupOfPool(x.poolId)) ?? 0) + 1);
    assert.deepEqual([...perGroup].sort(), [[0, 60], [1, 30], [2, 10]]);
    assert.deepEqual(s.samples.map((x) => x.order), s.samples.map((_, i) => i));
    // A drawn image's closest target is a target of its own group; hits explain those that targets retrieved.
    for (const x of s.samples) assert.equal(x.closestLabel, `g${groupOfPool(x.poolId)}`);
    const retrieved = new Set(lists.flatMap((l) => l.neighbours.map((n) => n.poolId)));
    for (const x of s.samples) assert.equal(x.hitCount > 0, retrieved.has(x.poolId), x.poolId);
    for (const x of s.samples) assert.equal(x.bestRank === 0, x.hitCount === 0);
    assert.equal(s.hitsOffered, 50);
  });

  it('is deterministic for a seed, whatever the order the store streams the pool in; another seed draws other images', async () => {
    const a = await selectByClusters(candidateLists(lists), policy(), none, streamed());
    const b = await selectByClusters(candidateLists(lists), policy(), none, streamed('backward'));
    assert.deepEqual(a, b);
    const c = await selectByClusters(candidateLists(lists), policy({ seed: 1 }), none, streamed());
    assert.notDeepEqual(new Set(a.samples.map((x) => x.poolId)), new Set(c.samples.map((x) => x.poolId)));
  });

  it('never draws target images or leaked images, and reports a shortfall where a cluster runs out', async () => {
    const leaked = new Set(poolIds.filter((id) => groupOfPool(id) === 2).slice(0, 20));
    const targetIds = new Set(poolIds.filter((id) => groupOfPool(id) === 0).slice(0, 20));
    const s = await selectByClusters(candidateLists(lists), policy(), { leaked, targetIds }, streamed());
    assert.ok(!s.samples.some((x) => leaked.has(x.poolId) || targetIds.has(x.poolId)));
    assert.equal(s.leakageExcluded, 20);
    // A budget of 2,500 asks groups A, B and C for 1,500, 750 and 250 of their 500 or so images each.
    const big = await selectByClusters(candidateLists(lists), policy({}, 2500), none, streamed());
    const sizes = [0, 1, 2].map((g) => poolIds.filter((id) => groupOfPool(id) === g).length);
    assert.equal(big.shortfall, [1500, 750, 250].reduce((n, quota, g) => n + Math.max(0, quota - sizes[g]), 0));
    assert.equal(big.samples.length, 2500 - big.shortfall);
  });
});
