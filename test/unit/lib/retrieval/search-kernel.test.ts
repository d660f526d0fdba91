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
  const screens = loadSearchBlas().addon?.screen(new Float32Array(128), 1, 128).length !== 0;
  // Many small clusters: a target's k best soon come from its own, far above every other row.
  const clustered = (count: number, dim: number, seed: number) => clusteredVectors({ count, dim, centers: 200, seed }).vectors;

  /**
   * Searches 64 targets in 4 blocks of 2,048 rows (each holding one target three times), checking
   * every offer against the exact product; returns the tiles scored through the int8 screen.
   * `shape` reshapes every vector before both are normalized.
   */
  async function screenedSearch(dim: number, k: number, shape: (v: Float32Array) => Float32Array, drawn = clustered): Promise<number> {
    const count = 64;
    const targets = normalizeRows(shape(drawn(count, dim, 51)), dim);
    const kernel = await BlasKernel.open();
    const batch = { targets, best: new BestScores(count, k) };
    const seen: number[][] = Array.from({ length: count }, () => []);
    let screened = 0;
    for (const seed of [52, 53, 54, 55]) {
      const rows = 2048;
      const vectors = normalizeRows(shape(drawn(rows, dim, seed)), dim);
      // A target itself, three times in the block: equal scores at the top, offered all or none.
      for (const copy of [0, 1, 2]) vectors.set(targets.subarray(((seed * 7) % count) * dim, ((seed * 7) % count + 1) * dim), copy * dim);
      const [hits] = (await kernel.search(batch, dim, { vectors, rows })) as (TileHits & { screenedTiles: number })[];
      screened += hits.screenedTiles;
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

  for (const dim of [128, 384, 130]) {
    it(`screens in int8 once every list is full, offering what the full product would (dim ${dim})`, { skip: !screens && 'no int8 screen on this machine' }, async () => {
      const screened = await screenedSearch(dim, 5, (v) => v);
      // 4 blocks of 2 row tiles by 1 target tile; the first tile fills the heaps, so at most 7 are screened.
      assert.ok(screened > 0 && screened <= 7, `${screened} tiles screened`);
    });
  }

  it('offers what the full product would where a spike in one dimension coarsens every other', { skip: !screens && 'no int8 screen on this machine' }, async () => {
    // One dimension twenty times the rest: a row's 7-bit steps are a twentieth of its largest value.
    await screenedSearch(128, 5, (v) => v.map((x, i) => (i % 128 === 5 ? x * 20 + 3 : x)));
  });

  for (const lossy of ['targets', 'rows'] as const) {
    it(`offers what the full product would where the ${lossy}' quantization errors line up with the ${lossy === 'rows' ? 'targets' : 'rows'}`, { skip: !screens && 'no int8 screen on this machine' }, async () => {
      // The lossy side's values half a step off its grid (8 bits for targets, 7 for rows), in the
      // signs of one pattern, so that what its quantization loses points along that pattern; the
      // other side on its own grid (losing nothing) and leaning along the pattern too. Then that
      // loss is most of every score's error: a bound that left it out drops rows that belong in the lists.
      const dim = 128;
      const random = seededRandom(71);
      const signs = Float32Array.from({ length: dim }, () => (random() < 0.5 ? -1 : 1));
      // Largest value first (the grid's step is the largest over its steps), then half a step off or on the grid.
      const onGrid = (y: Float32Array, steps: number, off: boolean) => {
        const most = Math.max(...y.map(Math.abs));
        return y.map((x, j) => (j === 0 ? steps : Math.round((steps * x) / most) + (off ? 0.49 * signs[j] : 0)));
      };
      const r = seededRandom(51);
      const targets = new Float32Array(64 * dim);
      for (let t = 0; t < 64; t++) {
        const y = Float32Array.from({ length: dim }, (_, j) => (j === 0 ? 127 : r() * 180 - 90 + 30 * signs[j]));
        targets.set(normalizeRows(onGrid(y, 127, lossy === 'targets'), dim), t * dim);
      }
      const drawn = (count: number, _: number, seed: number) => {
        if (seed === 51) return targets;
        const r = seededRandom(seed);
        const rows = new Float32Array(count * dim);
        for (let row = 0; row < count; row++) {
          const along = 0.2 + 0.3 * r();
          const y = targets.subarray((row % 64) * dim, (row % 64 + 1) * dim).map((x, j) => x + (along * signs[j]) / Math.sqrt(dim));
          rows.set(onGrid(y, 63, lossy === 'rows'), row * dim);
        }
        return rows;
      };
      const screened = await screenedSearch(dim, 5, (v) => v, drawn);
      assert.ok(screened > 0, `${screened} tiles screened`);
    });
  }

  it('multiplies in full where the bounds let too many rows through, offering what the full product would', { skip: !screens && 'no int8 screen on this machine' }, async () => {
    // Every vector nearly the same: all scores within the quantization's error of the floor.
    const screened = await screenedSearch(128, 5, (v) => v.map((x, i) => (i % 128 === 0 ? 40 : x * 0.05)));
    assert.equal(screened, 0, 'no tile screened');
  });

  it('quantizes each block once for the screen, and refuses a screen that is not the block\'s', { skip: !screens && 'no int8 screen on this machine' }, () => {
    const { addon } = loadSearchBlas();
    const dim = 384;
    const rows = 37;
    const vectors = normalizeRows(clusteredVectors({ count: rows, dim, centers: 5, seed: 61 }).vectors, dim);
    // Rows padded to whole panels of 16, each its bytes and three floats.
    const screen = addon!.screen(vectors, rows, dim);
    assert.equal(screen.length, 48 * (dim + 12));
    assert.equal(addon!.screen(vectors, 1, 2100).length, 0, 'no screen past 2,096 dimensions');
    const best = new BestScores(1, 3);
    assert.throws(() => addon!.search(vectors.slice(0, dim), dim, vectors, rows, screen.subarray(1), best.heaps, best.sizes), /screen must be screen\(\) of the block/);
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
