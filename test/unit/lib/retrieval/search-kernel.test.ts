import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BestScores } from '../../../../lib/retrieval/best-scores';
import { BlasKernel, loadSearchBlas } from '../../../../lib/retrieval/blas-kernel';
import { normalizeRows, normalizeRowsInto } from '../../../../lib/retrieval/normalize';
import { exactSearch } from '../../../../lib/retrieval/exact-search';
import type { SearchKernelName } from '../../../../lib/retrieval/kernel-choice';
import { OnnxKernel } from '../../../../lib/retrieval/onnx-kernel';
import { GROUP, type SearchKernel, type TileHits } from '../../../../lib/retrieval/search-kernel';
import type { Neighbour } from '../../../../lib/retrieval/running-topk';
import { clusteredVectors, seededRandom } from '../../../../lib/retrieval/synthetic';
import { inMemoryBlocks } from '../../../support/pool-blocks';
import { bruteForceTopK } from '../../../support/search-oracle';

const KERNELS: { name: SearchKernelName; open: () => Promise<SearchKernel> }[] = [
  { name: 'blas', open: () => BlasKernel.open() },
  { name: 'onnx', open: () => OnnxKernel.open() },
];
const blasMissing = loadSearchBlas().missing;
const skipOf = (kernel: SearchKernelName) => kernel === 'blas' && blasMissing;

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

describe("the BLAS addon's normalize", () => {
  it('writes what normalizeRowsInto writes, bit for bit: any dimension, zero rows, tiny and huge values', { skip: blasMissing }, () => {
    const random = seededRandom(11);
    const { normalize } = loadSearchBlas().addon!;
    for (const dim of [1, 3, 7, 128, 384, 385]) {
      const rows = 40;
      const from = Float32Array.from({ length: rows * dim }, (_, i) => {
        const row = Math.floor(i / dim);
        if (row === 0) return 0;
        // Rows of every scale float32 holds, so that the sum of squares runs far from 1 in double.
        return (random() - 0.5) * 10 ** ((row % 13) * 6 - 36);
      });
      const native = normalize(new Float32Array(from.length), from, dim);
      const js = normalizeRowsInto(new Float32Array(from.length), from, dim);
      assert.deepEqual(Buffer.from(native.buffer), Buffer.from(js.buffer), `dim ${dim}`);
      assert.ok(native.subarray(0, dim).every((x) => x === 0), 'a zero row stays zero');
    }
  });

  it('refuses blocks that do not hold whole rows, and a target too short', { skip: blasMissing }, () => {
    const { normalize } = loadSearchBlas().addon!;
    assert.throws(() => normalize(new Float32Array(8), new Float32Array(7), 4), /whole rows/);
    assert.throws(() => normalize(new Float32Array(4), new Float32Array(8), 4), /at least as many/);
  });
});

for (const { name, open } of KERNELS) {
  describe(`the ${name} kernel`, { skip: skipOf(name) }, () => {
    it("offers every score among its target's k best so far, ties included, block after block", async () => {
      const dim = 128;
      const k = 20;
      const targets = clusteredVectors({ count: 70, dim, centers: 8, seed: 21 }).vectors;
      const kernel = await open();
      try {
        const batch = { targets, best: new BestScores(70, k) };
        const seen: number[][] = Array.from({ length: 70 }, () => []);
        for (const [seed, rows] of [[22, 700], [23, 3], [24, 1100]]) {
          // Padded to whole groups with zero rows, as the search hands blocks over.
          const vectors = new Float32Array(Math.ceil(rows / GROUP) * GROUP * dim);
          vectors.set(clusteredVectors({ count: rows, dim, centers: 8, seed }).vectors);
          // Duplicates of row 0: equal scores that a cut must not split.
          for (const copy of [1, 2].filter((r) => r < rows)) vectors.copyWithin(copy * dim, 0, dim);
          const found = await kernel.search(batch, dim, { vectors, rows });
          const offered = new Map<string, number>();
          for (const hits of found) hits.scores.forEach((score, i) => offered.set(`${hits.targets[i]}/${hits.rows[i]}`, score));
          for (let t = 0; t < 70; t++) {
            for (let row = 0; row < rows; row++) {
              let dot = 0;
              for (let j = 0; j < dim; j++) dot += targets[t * dim + j] * vectors[row * dim + j];
              seen[t].push(dot);
            }
            const kth = [...seen[t]].sort((a, b) => b - a)[Math.min(k, seen[t].length) - 1];
            for (let row = 0; row < rows; row++) {
              const score = seen[t][seen[t].length - rows + row];
              const got = offered.get(`${t}/${row}`);
              if (score >= kth + 1e-5) assert.ok(got !== undefined, `target ${t}, row ${row}: ${score} reaches the k-th ${kth} but was not offered`);
              if (got !== undefined) assert.ok(Math.abs(got - score) < 1e-5, `target ${t}, row ${row}: ${got} vs ${score}`);
            }
            // Copies score alike: offered all or none.
            if (rows > 2) assert.ok([0, 3].includes([0, 1, 2].filter((row) => offered.has(`${t}/${row}`)).length), `target ${t}: copies split`);
          }
        }
        assert.ok(batch.best.full());
      } finally {
        await kernel.release();
      }
    });

    it('offers every row of a first block whose scores are all equal, whether it holds k rows or more', async () => {
      const dim = 128;
      const k = 20;
      const targets = clusteredVectors({ count: 5, dim, centers: 2, seed: 41 }).vectors;
      const row = clusteredVectors({ count: 1, dim, centers: 1, seed: 42 }).vectors;
      const kernel = await open();
      try {
        for (const rows of [k, k + 40]) {
          const batch = { targets, best: new BestScores(5, k) };
          const vectors = new Float32Array(Math.ceil(rows / GROUP) * GROUP * dim);
          for (let r = 0; r < rows; r++) vectors.set(row, r * dim);
          const found = await kernel.search(batch, dim, { vectors, rows });
          for (let t = 0; t < 5; t++) {
            const offered = found.flatMap((hits) => [...hits.targets.keys()].filter((i) => hits.targets[i] === t).map((i) => hits.scores[i]));
            assert.equal(offered.length, rows, `${rows} rows, target ${t}`);
            assert.equal(new Set(offered).size, 1, `${rows} rows, target ${t}: copies score alike`);
          }
          assert.ok(batch.best.full());
        }
      } finally {
        await kernel.release();
      }
    });
  });
}

describe('the BLAS kernel', { skip: blasMissing }, () => {
  /**
   * Searches 64 targets in 4 blocks of 2,048 rows (each holding one target three times), checking
   * every offer against the exact product; returns the tiles screened at each stage.
   * `shape` reshapes every vector before both are normalized.
   */
  async function screenedSearch(shape: (v: Float32Array) => Float32Array): Promise<[number, number]> {
    const dim = 384;
    const k = 5;
    const count = 64;
    // Many small clusters: a target's k best soon come from its own, far above every other row.
    const targets = normalizeRows(shape(clusteredVectors({ count, dim, centers: 200, seed: 51 }).vectors), dim);
    const kernel = await BlasKernel.open();
    const batch = { targets, best: new BestScores(count, k) };
    const seen: number[][] = Array.from({ length: count }, () => []);
    const screened: [number, number] = [0, 0];
    for (const seed of [52, 53, 54, 55]) {
      const rows = 2048;
      const vectors = normalizeRows(shape(clusteredVectors({ count: rows, dim, centers: 200, seed }).vectors), dim);
      // A target itself, three times in the block: equal scores at the top, offered all or none.
      for (const copy of [0, 1, 2]) vectors.set(targets.subarray(((seed * 7) % count) * dim, ((seed * 7) % count + 1) * dim), copy * dim);
      const [hits] = (await kernel.search(batch, dim, { vectors, rows })) as (TileHits & { screenedTiles: [number, number] })[];
      hits.screenedTiles.forEach((tiles, stage) => (screened[stage] += tiles));
      const offered = new Map<string, number>();
      hits.scores.forEach((score, i) => offered.set(`${hits.targets[i]}/${hits.rows[i]}`, score));
      for (let t = 0; t < count; t++) {
        for (let row = 0; row < rows; row++) {
          let dot = 0;
          for (let j = 0; j < dim; j++) dot += targets[t * dim + j] * vectors[row * dim + j];
          seen[t].push(dot);
        }
        const kth = [...seen[t]].sort((a, b) => b - a)[k - 1];
        for (let row = 0; row < rows; row++) {
          const score = seen[t][seen[t].length - rows + row];
          const got = offered.get(`${t}/${row}`);
          if (score >= kth + 1e-5) assert.ok(got !== undefined, `target ${t}, row ${row}: ${score} reaches the k-th ${kth} but was not offered`);
          if (got !== undefined) assert.ok(Math.abs(got - score) < 1e-5, `target ${t}, row ${row}: ${got} vs ${score}`);
        }
        assert.ok([0, 3].includes([0, 1, 2].filter((row) => offered.has(`${t}/${row}`)).length), `target ${t}: copies split`);
      }
    }
    return screened;
  }

  it('screens with half the product once floors stand above the rest of the pool, offering what the full product would (dim 384)', async () => {
    const [half, threeQuarters] = await screenedSearch((v) => v);
    // 4 blocks of 2 row tiles by 1 target tile; the first tile fills the heaps, so at most 7 are screened.
    assert.ok(half > 0 && half + threeQuarters <= 7, `${half} tiles screened with half the product, ${threeQuarters} with three quarters`);
  });

  it('goes on to three quarters of the product where the second half holds too much for its bound, offering what the full product would', async () => {
    // Most of every vector in the third quarter of its dimensions, next to nothing in the last.
    const weights = (j: number) => (j < 192 ? 0.3 : j < 288 ? 1 : 0.02);
    const [half, threeQuarters] = await screenedSearch((v) => v.map((x, i) => x * weights(i % 384)));
    assert.equal(half, 0, 'half the product bounds nothing here');
    assert.ok(threeQuarters > 0 && threeQuarters <= 7, `${threeQuarters} tiles screened with three quarters of the product`);
  });

  it("bounds with each block's tails (its rows' norms past each cut), and refuses tails that are not the block's", () => {
    const { addon } = loadSearchBlas();
    const dim = 384;
    const rows = 37;
    const vectors = normalizeRows(clusteredVectors({ count: rows, dim, centers: 5, seed: 61 }).vectors, dim);
    const tails = addon!.tails(vectors, rows, dim);
    assert.equal(tails.length, 2 * rows, 'one norm per row for each of the two stages');
    for (const [stage, cut] of [192, 288].entries()) {
      for (let r = 0; r < rows; r++) {
        let sum = 0;
        for (let j = cut; j < dim; j++) sum += vectors[r * dim + j] ** 2;
        assert.ok(Math.abs(tails[stage * rows + r] - Math.sqrt(sum)) < 1e-6, `row ${r}, stage ${stage}: ${tails[stage * rows + r]} vs ${Math.sqrt(sum)}`);
      }
    }
    assert.equal(addon!.tails(vectors.subarray(0, rows * 128), rows, 128).length, 0, 'no screen, no tails, under 256 dimensions');
    const best = new BestScores(1, 3);
    assert.throws(() => addon!.search(vectors.slice(0, dim), dim, vectors, rows, tails.subarray(1), best.heaps, best.sizes), /tails must be tails\(\) of the block/);
  });
});

describe('the BLAS and onnx kernels', () => {
  for (const dim of [128, 384]) {
    const rows = 1500;
    const pool = clusteredVectors({ count: rows, dim, centers: 12, seed: 31 }).vectors;
    const targets = clusteredVectors({ count: 40, dim, centers: 12, seed: 32 }).vectors;
    // Duplicate images: pool row 7 five times over, and target 0 itself four times, the later in the pool the lower the id.
    for (const row of [100, 640, 641, 1499]) pool.copyWithin(row * dim, 7 * dim, 8 * dim);
    const copies = [1498, 900, 33, 2];
    for (const row of copies) pool.set(targets.subarray(0, dim), row * dim);
    const ids = Array.from({ length: rows }, (_, row) => (copies.includes(row) ? `dup/${String(rows - row).padStart(4, '0')}` : `pool/${String(row).padStart(4, '0')}`));

    for (const [k, blockRows, targetBatch] of [
      [3, 20, 40],
      [300, 257, 16],
    ]) {
      const what = `dim ${dim}, k ${k}, blocks of ${blockRows} rows`;
      it(`return the brute-force oracle's lists and each other's (${what}${blockRows < GROUP ? ', fewer than a group' : ''}${k > blockRows ? ', k larger than a block' : ''})`, { skip: blasMissing }, async () => {
        const oracle = bruteForceTopK(targets, pool, ids, dim, k);
        const lists: Record<string, Neighbour[][]> = {};
        for (const { name: kernel } of KERNELS) {
          const top = await exactSearch(targets, dim, inMemoryBlocks(pool, ids, dim, blockRows), { k, targetBatch, kernel });
          lists[kernel] = Array.from({ length: 40 }, (_, t) => top.neighbours(t));
        }
        // Equally far within float32 rounding: a tie either kernel may list in either order.
        const tied = (list: Neighbour[], r: number) => Math.abs(list[r].distance - (list[r + 1]?.distance ?? Infinity)) < 1e-6 || Math.abs(list[r].distance - (list[r - 1]?.distance ?? -Infinity)) < 1e-6;
        for (let t = 0; t < 40; t++) {
          for (const kernel of ['blas', 'onnx']) {
            const got = lists[kernel][t];
            assert.equal(got.length, k);
            got.forEach((n, r) => {
              assert.ok(Math.abs(n.distance - oracle[t][r].distance) < 1e-5, `${kernel}, target ${t} rank ${r + 1}: distance ${n.distance} vs ${oracle[t][r].distance}`);
              assert.ok(n.poolId === oracle[t][r].poolId || tied(oracle[t], r), `${kernel}, target ${t} rank ${r + 1}: ${n.poolId} vs ${oracle[t][r].poolId}`);
            });
          }
          lists.blas[t].forEach((n, r) => assert.ok(n.poolId === lists.onnx[t][r].poolId || tied(lists.onnx[t], r), `target ${t} rank ${r + 1}: blas ${n.poolId}, onnx ${lists.onnx[t][r].poolId}`));
        }
        // Copies of a target tie exactly: the lowest ids come first, in both.
        const lowest = copies.map((row) => ids[row]).sort().slice(0, Math.min(k, copies.length));
        for (const kernel of ['blas', 'onnx']) assert.deepEqual(lists[kernel][0].slice(0, lowest.length).map((n) => n.poolId), lowest, kernel);
      });
    }
  }
});
