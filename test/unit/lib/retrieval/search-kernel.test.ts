import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BestScores } from '../../../../lib/retrieval/search-kernel';
import { seededRandom } from '../../../../lib/retrieval/synthetic';

describe("a search thread's best scores per target", () => {
  it("holds each target's k-th best as its floor, whatever the order and however many ties", () => {
    const random = seededRandom(3);
    const k = 7;
    const best = new BestScores(3, k);
    const seen: number[][] = [[], [], []];
    for (let i = 0; i < 500; i++) {
      const target = i % 3;
      // Coarse scores, so that many are equal.
      const score = Math.fround(Math.round(random() * 40) / 40);
      seen[target].push(score);
      best.push(target, score);
      assert.equal(best.full(), i >= 3 * k - 1);
    }
    const kth = seen.map((scores) => scores.sort((a, b) => b - a)[k - 1]);
    assert.deepEqual([...best.floors()], kth);
  });
});
