import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runConfigFields } from '../../../../lib/config/schema';
import type { Neighbour } from '../../../../lib/retrieval/running-topk';
import { leakageExclusions } from '../../../../lib/selection/leakage';
import { selectByPolicy } from '../../../../lib/selection/policy';
import { type HitRow, mergeHits } from '../../../../lib/selection/tables';
import { candidateLists } from '../../../support/candidate-lists';
import { oracleMerge, oracleSelection, syntheticHits } from '../../../support/selection-oracle';

// 20k targets x k 20 over 3 target chunks x 2 pool partitions: 800k hits. The store's part (the merged
// table, its reads by rank) is tested on LanceDB in test/integration/workflows/select-subset.test.ts.
const K = 20;
const poolIds = Array.from({ length: 60_000 }, (_, i) => `pool/${String(i).padStart(6, '0')}`);
const data = syntheticHits({ train: 18_000, test: 2_000, k: K, chunks: 3, partitions: 2, poolIds });
const retrievalOf = (fields: object) => runConfigFields.shape.retrieval.parse({ k: K, ...fields });
const threshold = retrievalOf({}).leakageGuard.threshold;

/** The merge as selectFromHits does it: a chunk at a time, each partition folded in batches that split targets' lists. */
function mergeByChunk() {
  const testIds = new Set(data.targets.filter((t) => t.split === 'test').map((t) => t.id));
  const merged = new Map<string, Neighbour[]>();
  const leakage = leakageExclusions([], threshold);
  for (const partitions of data.hits) {
    const topk = new Map<string, Neighbour[]>();
    for (const lists of partitions) {
      const rows: HitRow[] = lists.flatMap((t) => t.neighbours.map((n, r) => ({ targetId: t.targetId, poolId: n.poolId, rank: r + 1, distance: n.distance })));
      for (let at = 0; at < rows.length; at += 999) mergeHits(topk, rows.slice(at, at + 999), K);
    }
    leakageExclusions([...topk].filter(([id]) => testIds.has(id)).map(([targetId, neighbours]) => ({ targetId, neighbours })), threshold, leakage);
    for (const [id, list] of topk) merged.set(id, list);
  }
  return { merged, leakage };
}

describe('the selection merge, a chunk at a time, against the all-in-memory oracle', () => {
  const chunked = mergeByChunk();
  const merged = oracleMerge(data, K);
  const train = data.targets.filter((t) => t.split === 'train').map((t) => ({ targetId: t.id, label: t.label, neighbours: chunked.merged.get(t.id) ?? [] }));

  it('merges each target’s top-k exactly: duplicates once at their smallest distance, ties by pool id', () => {
    assert.deepEqual(chunked.merged, merged);
    const lists = [...merged.values()];
    assert.ok(lists.some((l) => l.some((n, i) => i > 0 && n.distance === l[i - 1].distance)), 'ties within a list');
    assert.ok(lists.some((l) => l.length < K), 'short lists');
    const foundTwice = data.hits.some(([first, last]) => first.some((t, i) => t.neighbours.some((n) => last[i].neighbours.some((m) => m.poolId === n.poolId && m.distance !== n.distance))));
    assert.ok(foundTwice, 'a pool id in two partitions’ lists of a target, at two distances');
  });

  // The top-up after balancing walks the ranks as the unbalanced budget policy does.
  const cases: [string, object, { shortfall: boolean }][] = [
    ['budget, balanced classes, min similarity', { budget: 30_000, balanceClasses: true, minSimilarity: 0.6 }, { shortfall: false }],
    ['budget beyond the candidates, no leakage guard', { budget: 59_000, minSimilarity: 0.97, leakageGuard: { enabled: false } }, { shortfall: true }],
    ['topk-per-target', { policy: 'topk-per-target' }, { shortfall: false }],
  ];
  for (const [name, fields, expect] of cases) {
    it(`selects exactly what the oracle selects: ${name}`, async () => {
      const retrieval = retrievalOf(fields);
      const oracle = oracleSelection(data, merged, retrieval);
      const leaked = retrieval.leakageGuard.enabled ? chunked.leakage.excluded : new Set<string>();
      const selection = await selectByPolicy(candidateLists(train), retrieval, { leaked, targetIds: new Set(data.targets.map((t) => t.id)) });
      assert.deepEqual(selection, oracle.selection);
      assert.equal(retrieval.leakageGuard.enabled ? chunked.leakage.saturated : 0, oracle.saturated);
      // The data reaches every rule it is meant to test.
      assert.ok(selection.targetImagesDropped > 0 && selection.samples.some((s) => s.hitCount > 1));
      if (retrieval.leakageGuard.enabled) assert.ok(selection.leakageExcluded > 0 && oracle.saturated > 0);
      if (retrieval.minSimilarity !== undefined) assert.ok(selection.belowMinSimilarity > 0);
      assert.equal(selection.shortfall > 0, expect.shortfall);
    });
  }
});
