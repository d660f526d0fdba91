import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSearchBlas } from '../../../../lib/retrieval/blas-kernel';
import { compareNeighbours, type Neighbour, RunningTopK } from '../../../../lib/retrieval/running-topk';
import { seededRandom } from '../../../../lib/retrieval/synthetic';

/** A block's id reader that counts what it decodes, and fails once its block is retired. */
function reader(ids: string[]) {
  const decoded: string[] = [];
  let retired = false;
  return {
    decoded,
    retire: () => (retired = true),
    idOf: (row: number) => {
      assert.ok(!retired, `id of row ${row} read after its block was retired`);
      decoded.push(ids[row]);
      return ids[row];
    },
  };
}

describe('running top-k', () => {
  it('keeps the k nearest with ties by pool id, whatever order the candidates come in', () => {
    const random = seededRandom(3);
    const candidates = Array.from({ length: 400 }, (_, i) => ({ poolId: `pool/${String(i).padStart(3, '0')}`, distance: Math.floor(random() * 20) / 10 }));
    const expected = [...candidates].sort(compareNeighbours).slice(0, 7);
    for (let round = 0; round < 5; round++) {
      const order = [...candidates.keys()].sort(() => random() - 0.5);
      const top = new RunningTopK(1, 7);
      // Four blocks of 100 rows, block b holding candidates 100b .. 100b + 99.
      for (let b = 0; b < 4; b++) top.addBlock(b, (row) => candidates[100 * b + row].poolId);
      for (const i of order) top.offer(0, candidates[i].distance, Math.floor(i / 100), i % 100);
      top.retire([0, 1, 2, 3]);
      assert.deepEqual(top.neighbours(0), expected);
    }
  });

  it('decodes no id without a tie until its block retires, and then only the listed ones', () => {
    const k = 3;
    const top = new RunningTopK(1, k);
    const first = reader(['a0', 'a1', 'a2', 'a3', 'a4']);
    const second = reader(['b0', 'b1', 'b2']);
    top.addBlock(0, first.idOf);
    top.addBlock(1, second.idOf);
    [0.5, 0.4, 0.3, 0.2, 0.6].forEach((distance, row) => top.offer(0, distance, 0, row));
    [0.25, 0.9, 0.1].forEach((distance, row) => top.offer(0, distance, 1, row));
    assert.deepEqual([...first.decoded, ...second.decoded], [], 'distinct distances need no id');
    top.retire([0]);
    first.retire();
    assert.deepEqual(first.decoded, ['a3'], 'of the first block only the row still listed');
    top.retire([1]);
    second.retire();
    assert.deepEqual(second.decoded.sort(), ['b0', 'b2']);
    assert.deepEqual(top.neighbours(0), [
      { poolId: 'b2', distance: 0.1 },
      { poolId: 'a3', distance: 0.2 },
      { poolId: 'b0', distance: 0.25 },
    ]);
  });

  it('decodes at a tied boundary only the ids of the tied rows', () => {
    const top = new RunningTopK(1, 2);
    const block = reader(['p/far', 'p/near', 'p/tie-c', 'p/tie-a', 'p/tie-b', 'p/farther']);
    top.addBlock(7, block.idOf);
    top.offer(0, 0.1, 7, 1);
    top.offer(0, 0.5, 7, 0);
    top.offer(0, 0.3, 7, 2);
    top.offer(0, 0.3, 7, 3);
    top.offer(0, 0.3, 7, 4);
    top.offer(0, 0.9, 7, 5);
    assert.deepEqual(new Set(block.decoded), new Set(['p/tie-c', 'p/tie-a', 'p/tie-b']));
    top.retire([7]);
    block.retire();
    assert.deepEqual(
      top.neighbours(0).map((n: Neighbour) => n.poolId),
      ['p/near', 'p/tie-a'],
    );
  });

  it('lists fewer than k when fewer were offered, and none for a target never offered one', () => {
    const top = new RunningTopK(2, 5);
    top.addBlock(0, (row) => `pool/${row}`);
    top.offer(1, 0.7, 0, 3);
    top.offer(1, 0.2, 0, 9);
    top.retire([0]);
    assert.deepEqual(top.neighbours(0), []);
    assert.deepEqual(top.neighbours(1), [
      { poolId: 'pool/9', distance: 0.2 },
      { poolId: 'pool/3', distance: 0.7 },
    ]);
  });

  describe("the BLAS addon's bulk offers", () => {
    const blas = loadSearchBlas();

    /** Hits of `blocks` blocks for `targets` targets, scores drawn from `values` distinct float32s: many ties at every place. */
    function hitsOf(seed: number, targets: number, blocks: number, values: number) {
      const random = seededRandom(seed);
      return Array.from({ length: blocks }, () => {
        const count = Math.floor(random() * 40 * targets);
        const hits = { targets: new Int32Array(count), rows: new Int32Array(count), scores: new Float32Array(count) };
        for (let i = 0; i < count; i++) {
          hits.targets[i] = Math.floor(random() * targets);
          // A row once per block, as the kernel finds it once per target.
          hits.rows[i] = i;
          hits.scores[i] = Math.floor(random() * values) / values;
        }
        return hits;
      });
    }

    it('give the lists that offering each hit in turn gives: ties by pool id, any k, any share of ties', { skip: blas.missing }, () => {
      // [seed, k, distinct scores, blocks]: one block and a large k test the lists while they fill.
      for (const [seed, k, values, blockCount] of [
        [1, 1, 4, 6],
        [2, 7, 30, 6],
        [3, 50, 1000, 6],
        [4, 16, 1e6, 6],
        [5, 60, 8, 1],
        [6, 30, 20, 2],
      ]) {
        const targets = 30;
        const blocks = hitsOf(seed, targets, blockCount, values);
        const bulk = new RunningTopK(targets, k, blas.addon);
        const oneByOne = new RunningTopK(targets, k, null);
        blocks.forEach((hits, block) => {
          for (const top of [bulk, oneByOne]) {
            top.addBlock(block, (row) => `pool/${block}/${String(row).padStart(4, '0')}`);
            // Batches of 10 targets, the block's hits split by batch as the search threads send them.
            for (let first = 0; first < targets; first += 10) {
              const own = [...hits.targets.keys()].filter((i) => hits.targets[i] >= first && hits.targets[i] < first + 10);
              top.offerHits(first, block, {
                targets: Int32Array.from(own, (i) => hits.targets[i] - first),
                rows: Int32Array.from(own, (i) => hits.rows[i]),
                scores: Float32Array.from(own, (i) => hits.scores[i]),
              });
            }
          }
        });
        for (const top of [bulk, oneByOne]) top.retire(blocks.map((_, block) => block));
        for (let t = 0; t < targets; t++) {
          const expected = blocks
            .flatMap((hits, block) => [...hits.targets.keys()].filter((i) => hits.targets[i] === t).map((i) => ({ poolId: `pool/${block}/${String(hits.rows[i]).padStart(4, '0')}`, distance: 1 - hits.scores[i] })))
            .sort(compareNeighbours)
            .slice(0, k);
          assert.deepEqual(oneByOne.neighbours(t), expected, `seed ${seed}: target ${t} one by one`);
          assert.deepEqual(bulk.neighbours(t), expected, `seed ${seed}: target ${t} in bulk`);
        }
      }
    });

    it('break a tie below the top by pool id, so that a later tie with the top meets the right one', { skip: blas.missing }, () => {
      const top = new RunningTopK(1, 2, blas.addon);
      top.addBlock(0, (row) => ['p/far', 'p/b', 'p/a', 'p/a0'][row]);
      const offer = (row: number, score: number) => top.offerHits(0, 0, { targets: Int32Array.of(0), rows: Int32Array.of(row), scores: Float32Array.of(score) });
      offer(0, 0.5);
      offer(1, 0.75);
      // In place of p/far, as far as p/b below it: p/b, the greater id, must go up to the top...
      offer(2, 0.75);
      // ...for this one to push it out.
      offer(3, 0.75);
      top.retire([0]);
      assert.deepEqual(top.neighbours(0), [
        { poolId: 'p/a', distance: 0.25 },
        { poolId: 'p/a0', distance: 0.25 },
      ]);
    });

    it('refuses lists and hits that disagree, before offering any', { skip: blas.missing }, () => {
      const { offer } = blas.addon!;
      const lists = (targets: number, k: number) =>
        [new Float64Array(targets * k), new Int32Array(targets * k), new Uint32Array(targets), new Int32Array(targets * k), new Int32Array(targets * k), new Uint8Array(targets * k)] as const;
      const hits = (target: number) => [Int32Array.of(target), Int32Array.of(0), Float32Array.of(0.5)] as const;
      assert.throws(() => offer(...lists(2, 3), 0, 0, ...hits(2)), /outside the lists/);
      assert.throws(() => offer(...lists(2, 3), 1, 0, ...hits(1)), /outside the lists/);
      const [distances, held, filled, blockOf, rowOf] = lists(2, 3);
      assert.throws(() => offer(distances, held, filled, blockOf, rowOf, new Uint8Array(5), 0, 0, ...hits(0)), /disagree on targets x k/);
      assert.throws(() => offer(distances, held, filled, blockOf, rowOf, new Uint8Array(6), 0, 0, Int32Array.of(0), Int32Array.of(0, 1), Float32Array.of(0.5)), /of one length/);
      assert.deepEqual([...filled], [0, 0], 'nothing offered');
    });
  });
});
