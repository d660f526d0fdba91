import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { annParams, indexName } from '../../../../lib/retrieval/ann';
import { REFERENCE_RATES, searchCost } from '../../../../lib/retrieval/cost';

describe('search path by estimated cost', () => {
  const cost = (targets: number, rows: number, indexReady: boolean) =>
    searchCost({ targets, rows, dim: 128, targetChunk: 16_384, ann: annParams(rows, 128), indexReady });

  it('is exact for a target batch against the pool (the SEPT case)', () => {
    assert.equal(cost(10_000, 1_000_000, false).choice, 'exact');
    assert.equal(cost(10_000, 1_000_000, true).choice, 'exact');
    assert.equal(cost(200, 80_000, false).choice, 'exact');
  });

  it('is the index for a few targets against a huge pool whose index is built', () => {
    assert.equal(cost(5, 100_000_000, true).choice, 'ann');
    // Without the index, building it costs more than scanning once.
    assert.equal(cost(5, 100_000_000, false).choice, 'exact');
  });

  it("weighs the exact path by the rate it is given (a worker's own), the reference machine's by default", () => {
    const at = (matmulFlops?: number) =>
      searchCost({ targets: 200, rows: 100_000_000, dim: 128, targetChunk: 16_384, ann: annParams(100_000_000, 128), indexReady: true, rates: matmulFlops ? { ...REFERENCE_RATES, matmulFlops } : undefined });
    assert.equal(at().choice, 'exact');
    assert.equal(at(REFERENCE_RATES.matmulFlops).exactSeconds, at().exactSeconds);
    // A tenth of the reference rate: the built index becomes the cheaper path.
    assert.equal(at(REFERENCE_RATES.matmulFlops / 10).choice, 'ann');
  });

  it('derives index parameters from pool size and dimension, overridable, named by them', () => {
    const p = annParams(1_000_000, 384);
    assert.deepEqual([p.index, p.numPartitions, p.nprobes], ['ivf-flat', 1000, 63]);
    const pq = annParams(1_000_000, 384, { index: 'ivf-pq', nprobes: 40 });
    assert.deepEqual([pq.numSubVectors, pq.nprobes, pq.refineFactor], [48, 40, 10]);
    assert.equal(indexName(pq), 'vector_ivfpq_p1000_s48');
    assert.notEqual(indexName(p), indexName(pq));
  });
});
