import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runConfigFields } from '../../../../lib/config/schema';
import { RetrievalInputError } from '../../../../lib/retrieval/errors';
import { selectByPolicy, validatePolicy } from '../../../../lib/selection/policy';
import type { SelectionPolicy, TargetNeighbours } from '../../../../lib/selection/types';
import { candidateLists } from '../../../support/candidate-lists';
import { syntheticHits } from '../../../support/selection-oracle';

const none = { leaked: new Set<string>(), targetIds: new Set<string>() };
const policy = (p: Partial<SelectionPolicy>): SelectionPolicy => ({ policy: 'diverse', budget: 10, k: 5, balanceClasses: false, ...p });
const list = (targetId: string, ...poolIds: string[]): TargetNeighbours => ({ targetId, label: targetId, neighbours: poolIds.map((poolId, r) => ({ poolId, distance: 0.1 * (r + 1) + Number(targetId.slice(1)) / 1000 })) });

// A dense region (t1 to t4 share their nearest images a1 to a3; t4 has nothing else) and an
// isolated target t5 with five images of its own. Budget 10: a fair share of 2 per target.
const targets = [
  list('t1', 'a1', 'a2', 'a3', 'x1', 'x2'),
  list('t2', 'a1', 'a2', 'a3', 'y1', 'y2'),
  list('t3', 'a1', 'a2', 'a3', 'z1', 'z2'),
  list('t4', 'a1', 'a2', 'a3'),
  list('t5', 'b1', 'b2', 'b3', 'b4', 'b5'),
];
const ids = (s: { samples: { poolId: string }[] }) => s.samples.map((x) => x.poolId);

describe('the diverse policy', () => {
  it('gives each target its fair share of images no other target claimed, walking down its own list', async () => {
    const s = await selectByPolicy(candidateLists(targets), policy({}), none);
    // t1 claims a1, a2; t2 and t3 find them taken: t2 claims a3 (rank 3) and y1, t3 z1 and z2; t4
    // finds all of its three taken; t5 claims b1, b2. The top-up hands t4's share to the others.
    assert.deepEqual(ids(s).slice(0, 8).sort(), ['a1', 'a2', 'a3', 'b1', 'b2', 'y1', 'z1', 'z2']);
    assert.equal(s.samples.length, 10);
    assert.equal(s.shortfall, 0);
    // The budget policy spends the same budget on the isolated target's list instead.
    const budget = await selectByPolicy(candidateLists(targets), policy({ policy: 'budget' }), none);
    assert.equal(budget.samples.filter((x) => x.poolId.startsWith('b')).length, 4);
    assert.equal(s.samples.filter((x) => x.poolId.startsWith('b')).length, 3);
  });

  it('fills the budget where the budget walk capped at the fair share falls short', async () => {
    const capped = await selectByPolicy(candidateLists(targets), policy({ policy: 'budget', perTargetCap: 2 }), none);
    assert.equal(capped.shortfall, 2, 't4 claims nothing: its share is lost');
    const diverse = await selectByPolicy(candidateLists(targets), policy({}), none);
    assert.equal(diverse.shortfall, 0);
    assert.equal(new Set(ids(diverse)).size, 10);
    const hitsOffered = targets.reduce((n, t) => n + t.neighbours.length, 0);
    assert.equal(diverse.hitsOffered, hitsOffered);
  });

  it('respects the per-target cap in the share walk and the top-up', async () => {
    // t5 alone retrieves the b images: with a cap of 2 no more than 2 of them, whatever the top-up.
    const s = await selectByPolicy(candidateLists(targets), policy({ budget: 10, perTargetCap: 3 }), none);
    assert.ok(s.samples.filter((x) => x.poolId.startsWith('b')).length <= 3);
    const budget = await selectByPolicy(candidateLists(targets), policy({ policy: 'budget', budget: 8, perTargetCap: 2 }), none);
    assert.deepEqual(budget.samples.filter((x) => x.poolId.startsWith('b')).map((x) => x.poolId), ['b1', 'b2']);
  });

  it('is deterministic: the same subset in the same order whatever the target order', async () => {
    const a = await selectByPolicy(candidateLists(targets), policy({ budget: 7 }), none);
    const b = await selectByPolicy(candidateLists([...targets].reverse()), policy({ budget: 7 }), none);
    assert.deepEqual(a, b);
  });

  it('gives the remainder of the budget to the first targets by id', async () => {
    // Budget 4 over 3 targets (given in reverse): t1, first by id, gets the remainder.
    const own = [list('t1', 'x1', 'x2', 'x3'), list('t2', 'y1', 'y2', 'y3'), list('t3', 'z1', 'z2', 'z3')];
    const s = await selectByPolicy(candidateLists([...own].reverse()), policy({ budget: 4, k: 3 }), none);
    assert.deepEqual(ids(s).sort(), ['x1', 'x2', 'y1', 'z1']);
  });

  it('fills many targets’ budgets with distinct images, never more than budget', async () => {
    const data = syntheticHits({ train: 400, test: 0, k: 30, chunks: 1, partitions: 1, poolIds: Array.from({ length: 3000 }, (_, i) => `pool/${i}`) });
    const train = data.hits[0][0].map((t) => ({ ...t, label: 'c' }));
    const targetIds = new Set(data.targets.map((t) => t.id));
    const s = await selectByPolicy(candidateLists(train), policy({ budget: 2000, k: 30 }), { leaked: new Set(), targetIds });
    assert.equal(new Set(ids(s)).size, s.samples.length);
    assert.ok(s.samples.length <= 2000);
    assert.ok(!s.samples.some((x) => targetIds.has(x.poolId)));
    assert.deepEqual(s.samples.map((x) => x.order), s.samples.map((_, i) => i));
  });
});

describe('the new policies’ parameters', () => {
  const retrieval = (fields: object) => runConfigFields.shape.retrieval.safeParse(fields);
  const issue = (fields: object) => {
    const r = retrieval(fields);
    return r.success ? undefined : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };

  it('has defaults that parse, and refuses bad combinations naming the field', () => {
    assert.equal(issue({ policy: 'diverse', perTargetCap: 50 }), undefined);
    assert.equal(issue({ policy: 'cluster' }), undefined);
    assert.match(issue({ policy: 'cluster', cluster: { clusters: 50, sampleRows: 10 } }) ?? '', /^cluster\.sampleRows: /);
    assert.match(issue({ policy: 'topk-per-target', perTargetCap: 5 }) ?? '', /^perTargetCap: /);
    assert.match(issue({ policy: 'cluster', perTargetCap: 5 }) ?? '', /^perTargetCap: /);
    assert.match(issue({ policy: 'diverse', balanceClasses: true }) ?? '', /^balanceClasses: /);
    assert.match(issue({ policy: 'cluster', minSimilarity: 0.5 }) ?? '', /^minSimilarity: /);
    assert.match(issue({ perTargetCap: 0 }) ?? '', /^perTargetCap: /);
  });

  it('validatePolicy refuses what the pool or the target count cannot satisfy', () => {
    const cluster = { clusters: 10, sampleRows: 100, iterations: 5, seed: 0 };
    const bad = (p: Partial<SelectionPolicy>, count = 3, pool = 100) => () => validatePolicy(policy(p), count, pool);
    assert.throws(bad({ policy: 'cluster', cluster: { ...cluster, clusters: 101 } }), (e) => e instanceof RetrievalInputError && /retrieval\.cluster\.clusters \(101\) is larger than the pool \(100/.test(e.message));
    assert.throws(bad({ policy: 'cluster' }), /retrieval\.cluster is missing/);
    assert.throws(bad({ perTargetCap: 3, budget: 10 }), /retrieval\.perTargetCap \(3\) x 3 train targets is less than retrieval\.budget \(10\)/);
    assert.throws(bad({ policy: 'diverse', budget: 101 }), /retrieval\.budget \(101\) is larger than the pool/);
    assert.throws(bad({ policy: 'topk-per-target', perTargetCap: 5 }), /retrieval\.perTargetCap applies to the budget and diverse policies/);
    validatePolicy(policy({ policy: 'cluster', cluster }), 3, 100);
    validatePolicy(policy({ perTargetCap: 4 }), 3, 100);
  });
});
