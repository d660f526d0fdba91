import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunConfig } from '../../../../lib/config/validate';
import { nearDuplicateAgreement } from '../../../../lib/dedup/agreement';
import { DuplicateComponents, type DuplicateGroup } from '../../../../lib/dedup/components';
import { dedupTables } from '../../../../lib/dedup/tables';

/** A seeded permutation (xorshift), so that each order is the same on every run. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function groupsOf(edges: [string, string][], batch: number): DuplicateGroup[] {
  const c = new DuplicateComponents();
  for (let at = 0; at < edges.length; at += batch) for (const [a, b] of edges.slice(at, at + batch)) c.link(a, b);
  return c.groups();
}

// Three planted groups (a chain, a star, a pair), one self pair and repeated edges.
const EDGES: [string, string][] = [
  ['p/07', 'p/03'],
  ['p/03', 'p/11'],
  ['p/11', 'p/05'],
  ['p/20', 'p/21'],
  ['p/20', 'p/22'],
  ['p/23', 'p/20'],
  ['p/31', 'p/30'],
  ['p/30', 'p/31'],
  ['p/40', 'p/40'],
];
const EXPECTED: DuplicateGroup[] = [
  { representative: 'p/03', members: ['p/03', 'p/05', 'p/07', 'p/11'] },
  { representative: 'p/20', members: ['p/20', 'p/21', 'p/22', 'p/23'] },
  { representative: 'p/30', members: ['p/30', 'p/31'] },
];

describe('near-duplicate components', () => {
  it('groups connected images and keeps the smallest id of each group', () => {
    assert.deepEqual(groupsOf(EDGES, EDGES.length), EXPECTED);
  });

  it('finds the same groups and representatives for any order and batching of the edges', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const order = shuffled(EDGES, seed).map(([a, b], i): [string, string] => (i % 2 ? [b, a] : [a, b]));
      assert.deepEqual(groupsOf(order, 1 + (seed % 4)), EXPECTED, `seed ${seed}`);
    }
  });

  it('holds only the images that have an edge, and links long chains into one group', () => {
    const c = new DuplicateComponents();
    const n = 5000;
    const ids = Array.from({ length: n }, (_, i) => `q/${String(i).padStart(5, '0')}`);
    for (const i of shuffled(Array.from({ length: n - 1 }, (_, i) => i), 7)) c.link(ids[i + 1], ids[i]);
    assert.equal(c.rows, n);
    const groups = c.groups();
    assert.equal(groups.length, 1);
    assert.equal(groups[0].representative, ids[0]);
    assert.deepEqual(groups[0].members, ids);
    assert.equal(new DuplicateComponents().groups().length, 0);
  });
});

describe('agreement with known near-duplicates', () => {
  const groups: DuplicateGroup[] = [
    // The original and both its copies: all right, whichever is kept.
    { representative: 'a/copy1', members: ['a/copy1', 'a/copy2', 'a/orig'] },
    // A copy with a look-alike, not its original: the look-alike is removed wrongly, the copy not found.
    { representative: 'b/copy', members: ['b/copy', 'x/other'] },
    // Two unrelated images: a false group.
    { representative: 'y/1', members: ['y/1', 'y/2'] },
  ];
  const known = [
    { copy: 'a/copy1', original: 'a/orig' },
    { copy: 'a/copy2', original: 'a/orig' },
    { copy: 'b/copy', original: 'b/orig' },
    { copy: 'c/copy', original: 'c/orig' },
  ];

  it('counts recall over the known copies and precision over the removed images', () => {
    const a = nearDuplicateAgreement(groups, known);
    assert.deepEqual(a, { recall: 2 / 4, precision: 2 / 4, knownCopies: 4, copiesFound: 2, removed: 4, removedCorrectly: 2 });
  });

  it("counts a copy of a copy in its first original's family, whatever the order of the pairs", () => {
    const chain = [{ copy: 'p/b', original: 'p/a' }, { copy: 'p/c', original: 'p/b' }];
    const group = [{ representative: 'p/a', members: ['p/a', 'p/b', 'p/c'] }];
    for (const known of [chain, [...chain].reverse()]) {
      assert.deepEqual(nearDuplicateAgreement(group, known), { recall: 1, precision: 1, knownCopies: 2, copiesFound: 2, removed: 2, removedCorrectly: 2 });
    }
  });

  it('gives 1 where there is nothing to find or nothing removed', () => {
    assert.deepEqual(nearDuplicateAgreement([], []), { recall: 1, precision: 1, knownCopies: 0, copiesFound: 0, removed: 0, removedCorrectly: 0 });
    assert.equal(nearDuplicateAgreement([], known).recall, 0);
  });
});

describe('dedup settings', () => {
  const demo = { demo: true };

  it('are off by default, with a threshold, a method and a k-NN graph degree', () => {
    const { dedup } = parseRunConfig(demo);
    assert.deepEqual(dedup, { enabled: false, threshold: 0.95, method: 'auto', neighbours: 16, chunkRows: 65_536, maxRemovedShare: 0.5, contactSheet: { groups: 8, copies: 7 } });
  });

  it('refuse a threshold outside (0, 1], an unknown method, a degree of 0 and unknown fields, naming the field', () => {
    assert.throws(() => parseRunConfig({ ...demo, dedup: { threshold: 0 } }), /dedup\.threshold/);
    assert.throws(() => parseRunConfig({ ...demo, dedup: { threshold: 1.01 } }), /dedup\.threshold/);
    assert.throws(() => parseRunConfig({ ...demo, dedup: { method: 'fuzzy' } }), /dedup\.method/);
    assert.throws(() => parseRunConfig({ ...demo, dedup: { neighbours: 0 } }), /dedup\.neighbours/);
    assert.throws(() => parseRunConfig({ ...demo, dedup: { treshold: 0.9 } }), /treshold/);
    assert.equal(parseRunConfig({ ...demo, dedup: { enabled: true, threshold: 1 } }).dedup.threshold, 1);
  });

  it('name the groups table by encoder and settings, so that other settings never reuse them', () => {
    const settings = { threshold: 0.95, method: 'exact' as const, neighbours: 16 };
    const t = dedupTables('enc', settings);
    assert.match(t.groups, /^dedup_[0-9a-f]{16}$/);
    assert.equal(t.record, `${t.groups}_record`);
    assert.equal(t.edges(2, 3), `${t.groups}_edges_2_3`);
    assert.equal(dedupTables('enc', { ...settings }).groups, t.groups);
    for (const other of [dedupTables('enc2', settings), dedupTables('enc', { ...settings, threshold: 0.9 }), dedupTables('enc', { ...settings, method: 'ann' }), dedupTables('enc', { ...settings, neighbours: 8 })]) {
      assert.notEqual(other.groups, t.groups);
    }
  });
});
