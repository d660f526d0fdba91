import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
});
