import type { AnnParams } from './ann';

/**
 * Rates of this project's reference machine (2 shared cores), from `npm run bench:retrieval`;
 * they only need to be right within a factor of a few to pick the cheaper path. A worker measures
 * its own exact-search rate (machine-rates.ts); these stand in for the rest.
 */
export const REFERENCE_RATES = {
  /** The exact search (matrix products, selection, merge), fp32 multiply-adds x 2 per second. */
  matmulFlops: 100e9,
  /** Pool vectors streamed out of LanceDB, bytes per second. */
  scanBytesPerSecond: 1e9,
  /** Index build, seconds per (vector x dimension): IVF-PQ ~50 s for 200k x 128. */
  buildSecondsPerValue: { 'ivf-pq': 2e-6, 'ivf-flat': 2e-7, 'hnsw-sq': 2.6e-6 },
  /** Per-query overhead of a LanceDB search, seconds. */
  querySeconds: 3e-3,
  /** Values compared per second inside an index search. */
  annValuesPerSecond: 3e8,
};

export type SearchRates = typeof REFERENCE_RATES;

export interface SearchCost {
  exactSeconds: number;
  annSeconds: number;
  choice: 'exact' | 'ann';
}

/**
 * Estimated seconds of each path for `targets` queries against `rows` x `dim` pool vectors.
 * Exact: one matrix product per target and pool vector, plus one pool scan per target chunk.
 * ANN: the index build (unless it is already there) plus, per query, the partitions it probes.
 */
export function searchCost(opts: { targets: number; rows: number; dim: number; targetChunk: number; ann: AnnParams; indexReady: boolean; rates?: SearchRates }): SearchCost {
  const { targets, rows, dim, ann } = opts;
  const r = opts.rates ?? REFERENCE_RATES;
  const scans = Math.ceil(targets / opts.targetChunk);
  const exactSeconds = (2 * targets * rows * dim) / r.matmulFlops + (scans * rows * dim * 4) / r.scanBytesPerSecond;
  const probed = ann.index === 'hnsw-sq' ? Math.log2(Math.max(2, rows)) * (ann.ef ?? 150) : (ann.nprobes / ann.numPartitions) * rows * (ann.refineFactor ? 0.25 : 1);
  const perQuery = r.querySeconds + (probed * dim) / r.annValuesPerSecond;
  const build = opts.indexReady ? 0 : r.buildSecondsPerValue[ann.index] * rows * dim;
  const annSeconds = build + targets * perQuery;
  return { exactSeconds, annSeconds, choice: annSeconds < exactSeconds ? 'ann' : 'exact' };
}
