import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetrievalInputError } from '../../../../lib/retrieval/errors';
import { loadSearchBlas } from '../../../../lib/retrieval/blas-kernel';
import { exactSearch } from '../../../../lib/retrieval/exact-search';
import type { SearchKernelName } from '../../../../lib/retrieval/kernel-choice';
import { clusteredVectors } from '../../../../lib/retrieval/synthetic';
import { inMemoryBlocks } from '../../../support/pool-blocks';
import { bruteForceTopK } from '../../../support/search-oracle';

const DIM = 48;
const pool = clusteredVectors({ count: 5000, dim: DIM, centers: 40, seed: 11 });
const ids = Array.from({ length: 5000 }, (_, i) => `pool/${String(i).padStart(5, '0')}`);
const targets = clusteredVectors({ count: 300, dim: DIM, centers: 40, seed: 12 }).vectors;

for (const kernel of ['blas', 'onnx'] as SearchKernelName[]) {
  describe(`exact batched search, ${kernel} kernel`, { skip: kernel === 'blas' && loadSearchBlas().missing }, () => {
    it('returns the brute-force oracle top-k, across uneven blocks and target batches', async () => {
      const k = 25;
      const top = await exactSearch(targets, DIM, inMemoryBlocks(pool.vectors, ids, DIM, 777), { k, targetBatch: 128, kernel });
      const oracle = bruteForceTopK(targets, pool.vectors, ids, DIM, k);
      let mismatched = 0;
      for (let t = 0; t < 300; t++) {
        const got = top.neighbours(t);
        assert.equal(got.length, k);
        got.forEach((n, r) => assert.ok(Math.abs(n.distance - oracle[t][r].distance) < 1e-5, `target ${t} rank ${r + 1}: distance ${n.distance} vs ${oracle[t][r].distance}`));
        // Ids agree except where two neighbours are equally far within float32 rounding (a tie).
        got.forEach((n, r) => {
          if (n.poolId !== oracle[t][r].poolId && Math.abs(oracle[t][r].distance - (oracle[t][r + 1]?.distance ?? Infinity)) > 1e-6 && Math.abs(oracle[t][r].distance - (oracle[t][r - 1]?.distance ?? -Infinity)) > 1e-6) mismatched++;
        });
      }
      assert.equal(mismatched, 0);
    });

    it('gives the same neighbours whatever the block size', async () => {
      const a = await exactSearch(targets, DIM, inMemoryBlocks(pool.vectors, ids, DIM, 5000), { k: 10, kernel });
      const b = await exactSearch(targets, DIM, inMemoryBlocks(pool.vectors, ids, DIM, 333), { k: 10, targetBatch: 64, kernel });
      for (let t = 0; t < 300; t++) assert.deepEqual(a.neighbours(t).map((n) => n.poolId), b.neighbours(t).map((n) => n.poolId));
    });

    it('gives the same neighbours whether a block\'s ids are decoded as it leaves or blocks later', async () => {
      const kept = await exactSearch(targets, DIM, inMemoryBlocks(pool.vectors, ids, DIM, 333), { k: 10, kernel });
      const retired = await exactSearch(targets, DIM, inMemoryBlocks(pool.vectors, ids, DIM, 333), { k: 10, kernel, idWindowRows: 1 });
      for (let t = 0; t < 300; t++) assert.deepEqual(retired.neighbours(t), kept.neighbours(t));
    });

    it('returns the whole pool, nearest first, when k exceeds a block', async () => {
      const top = await exactSearch(targets.subarray(0, DIM * 3), DIM, inMemoryBlocks(pool.vectors.subarray(0, 20 * DIM), ids.slice(0, 20), DIM, 7), { k: 20, kernel });
      const oracle = bruteForceTopK(targets.subarray(0, DIM * 3), pool.vectors.subarray(0, 20 * DIM), ids.slice(0, 20), DIM, 20);
      for (let t = 0; t < 3; t++) assert.deepEqual(top.neighbours(t).map((n) => n.poolId), oracle[t].map((n) => n.poolId));
    });

    it('breaks ties by pool id, whatever the blocks, tiles and target batches (duplicate images in the pool)', async () => {
      // Eight copies of target 0 itself, the later in the pool the lower their id: k = 3 cuts through them.
      const copies = [1990, 1500, 1200, 900, 600, 300, 10, 5];
      const vectors = Float32Array.from(pool.vectors.subarray(0, 2000 * DIM));
      for (const row of copies) vectors.set(targets.subarray(0, DIM), row * DIM);
      const dupIds = ids.slice(0, 2000).map((id, row) => (copies.includes(row) ? `dup/${String(2000 - row).padStart(4, '0')}` : id));
      const lowest = copies.map((row) => dupIds[row]).sort().slice(0, 3);
      for (const [blockRows, targetBatch] of [[2000, 300], [333, 7], [7, 1]]) {
        const top = await exactSearch(targets.subarray(0, 20 * DIM), DIM, inMemoryBlocks(vectors, dupIds, DIM, blockRows), { k: 3, targetBatch, kernel });
        assert.deepEqual(top.neighbours(0).map((n) => n.poolId), lowest, `blocks of ${blockRows}, batches of ${targetBatch}`);
      }
    });

    it('refuses an empty target set, k of zero, no threads, and vectors of another dimension', async () => {
      const blocks = () => inMemoryBlocks(pool.vectors, ids, DIM, 1000);
      await assert.rejects(exactSearch(new Float32Array(0), DIM, blocks(), { k: 5, kernel }), (e) => e instanceof RetrievalInputError && /empty/.test(e.message));
      await assert.rejects(exactSearch(targets, DIM, blocks(), { k: 0, kernel }), (e) => e instanceof RetrievalInputError && /k must be/.test(e.message));
      await assert.rejects(exactSearch(targets, DIM, blocks(), { k: 5, threads: 0, kernel }), (e) => e instanceof RetrievalInputError && /threads must be/.test(e.message));
      await assert.rejects(exactSearch(targets.subarray(0, 32 * 10), 32, blocks(), { k: 5, kernel }), (e) => e instanceof RetrievalInputError && /dimension/.test(e.message));
    });
  });
}
