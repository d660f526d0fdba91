import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArms } from '../../../cli/commands/experiment';

describe('sept experiment --arms', () => {
  it("takes a comma-separated list in any order, and trains it in the experiment's own order", () => {
    assert.deepEqual(parseArms('diverse, sept'), ['sept', 'diverse']);
    assert.deepEqual(parseArms('pool,none,none'), ['none', 'pool']);
  });

  it('refuses an unknown arm or an empty list, naming the arms there are', () => {
    assert.throws(() => parseArms('sept,divers'), /--arms: no arm "divers"; the arms are none, random, sept, diverse, cluster, dedup, pool/);
    assert.throws(() => parseArms(' , '), /--arms: names no arm; the arms are none, random/);
  });
});
