import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COPY_EVERY, plantedCopies } from '../../../../lib/demo/near-duplicates';

describe('planted near-duplicates', () => {
  it('copies one image in 50, and one in 250 twice with two different transforms', () => {
    const copies = Array.from({ length: 7000 }, (_, i) => plantedCopies(i));
    assert.equal(copies.filter((c) => c.length >= 1).length, 7000 / COPY_EVERY);
    assert.equal(copies.filter((c) => c.length === 2).length, 7000 / 250);
    for (const [i, c] of copies.entries()) {
      if (i % COPY_EVERY !== 0) assert.deepEqual(c, []);
      if (c.length === 2) assert.notEqual(c[0], c[1]);
    }
  });

  it('cycles through every transform', () => {
    const kinds = new Set(Array.from({ length: 1000 }, (_, i) => plantedCopies(i)).flat());
    assert.deepEqual([...kinds].sort(), ['crop', 'jpeg', 'resize']);
  });
});
