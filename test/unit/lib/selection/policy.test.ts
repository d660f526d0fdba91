import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetrievalInputError } from '../../../../lib/retrieval/errors';
import { exactSearch } from '../../../../lib/retrieval/exact-search';
import { clusteredVectors } from '../../../../lib/retrieval/synthetic';
import { leakageExclusions } from '../../../../lib/selection/leakage';
import { selectByPolicy, validatePolicy } from '../../../../lib/selection/policy';
import type { SelectionPolicy, TargetNeighbours } from '../../../../lib/selection/types';
import { candidateLists } from '../../../support/candidate-lists';
import { inMemoryBlocks } from '../../../support/pool-blocks';

const none = { leaked: new Set<string>(), targetIds: new Set<string>() };
const policy = (p: Partial<SelectionPolicy>): SelectionPolicy => ({ policy: 'budget', budget: 10, k: 3, balanceClasses: false, ...p });
const hits = (targetId: string, label: string, ...list: [string, number][]): TargetNeighbours => ({ targetId, label, neighbours: list.map(([poolId, distance]) => ({ poolId, distance })) });

// Three targets; p1 is near both t1 and t2.
const targets = [
  hits('t1', 'a', ['p1', 0.1], ['p2', 0.2], ['p3', 0.3]),
  hits('t2', 'a', ['p1', 0.15], ['p4', 0.25], ['p5', 0.35]),
  hits('t3', 'b', ['p6', 0.05], ['p7', 0.4], ['p8', 0.5]),
];

describe('selection policies', () => {
  it('budget: every target’s rank-1 neighbour before any rank-2, nearest first within a rank', async () => {
    const s = await selectByPolicy(candidateLists(targets), policy({ budget: 4 }), none);
    assert.deepEqual(s.samples.map((x) => x.poolId), ['p6', 'p1', 'p2', 'p4']);
    assert.equal(s.shortfall, 0);
    const p1 = s.samples.find((x) => x.poolId === 'p1')!;
    assert.deepEqual({ hitCount: p1.hitCount, bestRank: p1.bestRank, closest: p1.closestTarget, distance: p1.distance }, { hitCount: 2, bestRank: 1, closest: 't1', distance: 0.1 });
  });

  it('budget: reports a shortfall when the candidates run out', async () => {
    const s = await selectByPolicy(candidateLists(targets), policy({ budget: 9 }), none);
    assert.equal(s.samples.length, 8);
    assert.equal(s.shortfall, 1);
  });

  it('topk-per-target: the union of every top-k list', async () => {
    const s = await selectByPolicy(candidateLists(targets), policy({ policy: 'topk-per-target', k: 2 }), none);
    assert.deepEqual(s.samples.map((x) => x.poolId).sort(), ['p1', 'p2', 'p4', 'p6', 'p7']);
  });

  it('drops neighbours below the similarity threshold and counts them', async () => {
    const s = await selectByPolicy(candidateLists(targets), policy({ policy: 'topk-per-target', minSimilarity: 0.7 }), none);
    assert.deepEqual(s.samples.map((x) => x.poolId).sort(), ['p1', 'p2', 'p3', 'p4', 'p6']);
    assert.equal(s.belowMinSimilarity, 3);
  });

  it('balances classes: equal shares of the budget, topped up where a class runs out', async () => {
    const balanced = await selectByPolicy(candidateLists(targets), policy({ budget: 4, balanceClasses: true }), none);
    assert.deepEqual(balanced.samples.map((x) => x.closestLabel).sort(), ['a', 'a', 'b', 'b']);
    const topUp = await selectByPolicy(candidateLists(targets), policy({ budget: 8, balanceClasses: true }), none);
    assert.equal(topUp.samples.length, 8);
  });

  it('never selects target images or leaked pool images, and counts them', async () => {
    const s = await selectByPolicy(candidateLists(targets), policy({ budget: 8 }), { leaked: new Set(['p2']), targetIds: new Set(['p6']) });
    assert.ok(!s.samples.some((x) => x.poolId === 'p2' || x.poolId === 'p6'));
    assert.equal(s.leakageExcluded, 1);
    assert.equal(s.targetImagesDropped, 1);
  });

  it('is deterministic: the same subset in the same order whatever the target order', async () => {
    const a = await selectByPolicy(candidateLists(targets), policy({ budget: 5 }), none);
    const b = await selectByPolicy(candidateLists([...targets].reverse()), policy({ budget: 5 }), none);
    assert.deepEqual(a, b);
  });

  it('refuses an empty target set, k or K of zero or larger than the pool', () => {
    const bad = (p: Partial<SelectionPolicy>, count = 3, pool = 100) => () => validatePolicy(policy(p), count, pool);
    assert.throws(bad({}, 0), (e) => e instanceof RetrievalInputError && /target set is empty/.test(e.message));
    assert.throws(bad({ k: 0 }), /retrieval\.k must be a positive integer/);
    assert.throws(bad({ k: 101 }), /retrieval\.k \(101\) is larger than the pool \(100/);
    assert.throws(bad({ budget: 0 }), /retrieval\.budget must be a positive integer/);
    assert.throws(bad({ budget: 101 }), /retrieval\.budget \(101\) is larger than the pool/);
    validatePolicy(policy({ policy: 'topk-per-target', budget: 1e9 }), 3, 100);
  });
});

describe('leakage guard', () => {
  it('excludes and counts exact copies of target test images injected into the pool', async () => {
    const dim = 32;
    const pool = clusteredVectors({ count: 3000, dim, centers: 20, seed: 3 }).vectors;
    const train = clusteredVectors({ count: 40, dim, centers: 20, seed: 4 }).vectors;
    const test = clusteredVectors({ count: 10, dim, centers: 20, seed: 5 }).vectors;
    // Inject every test image into the pool, and twice the first one (scaled: still a cosine duplicate).
    const copies = Float32Array.from([...test, ...test.subarray(0, dim).map((v) => v * 3)]);
    const vectors = Float32Array.from([...pool, ...copies]);
    const ids = [...Array.from({ length: 3000 }, (_, i) => `pool/${i}`), ...Array.from({ length: 11 }, (_, i) => `copy/${i}`)];
    const search = async (q: Float32Array) => exactSearch(q, dim, inMemoryBlocks(vectors, ids, dim, 1000), { k: 20 });
    const trainTop = await search(train);
    const testTop = await search(test);
    const asHits = (top: Awaited<ReturnType<typeof search>>, n: number, prefix: string) =>
      Array.from({ length: n }, (_, t) => ({ targetId: `${prefix}/${t}`, label: String(t % 4), neighbours: top.neighbours(t) }));
    const guard = leakageExclusions(asHits(testTop, 10, 'test'), 0.98);
    for (let i = 0; i < 11; i++) assert.ok(guard.excluded.has(`copy/${i}`), `copy/${i} excluded`);
    // Make the copies as attractive as possible: put them first in a train target's list.
    const trainHits = asHits(trainTop, 40, 'train');
    trainHits[0].neighbours.unshift(...ids.slice(3000).map((poolId) => ({ poolId, distance: 0 })));
    const s = await selectByPolicy(candidateLists(trainHits), policy({ budget: 500, k: 20 }), { leaked: guard.excluded, targetIds: new Set() });
    assert.ok(!s.samples.some((x) => x.poolId.startsWith('copy/')));
    assert.ok(s.leakageExcluded >= 11);
    assert.equal(s.samples.length, 500);
  });
});
