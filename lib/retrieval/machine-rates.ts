// The rates the exact-versus-ANN choice is made with, measured on the worker that makes it, once
// per process: a short exact search on synthetic vectors (about 17 GFLOP, a tenth of a second on
// two cores), the same threads and kernel (the worker's, kernel-choice.ts) a search runs. The
// reference rates (cost.ts) stay for what this does not measure, and stand in when the probe fails.
import { exactSearch } from './exact-search';
import { REFERENCE_RATES, type SearchRates } from './cost';
import { seededRandom } from './synthetic';

const DIM = 128;
const TARGETS = 1024;
const BLOCK_ROWS = 8192;
const BLOCKS = 8;

let measured: Promise<SearchRates> | undefined;

/** This machine's rates, measured on first use and kept for the process. */
export function machineRates(): Promise<SearchRates> {
  measured ??= probeMatmulFlops().then(
    (matmulFlops) => ({ ...REFERENCE_RATES, matmulFlops }),
    () => REFERENCE_RATES,
  );
  return measured;
}

/** Exact search's fp32 rate (2 x multiply-adds per second), over several blocks as a real pool is scanned. */
async function probeMatmulFlops(): Promise<number> {
  const random = seededRandom(7);
  const vectors = (rows: number) => Float32Array.from({ length: rows * DIM }, () => random() - 0.5);
  const targets = vectors(TARGETS);
  const block = vectors(BLOCK_ROWS);
  async function* pool(blocks: number) {
    for (let b = 0; b < blocks; b++) yield { vectors: block, rows: BLOCK_ROWS, idOf: (row: number) => `probe/${b}/${row}` };
  }
  // Starts the threads and their sessions first: a worker pays that once, not per search.
  await exactSearch(targets.subarray(0, DIM), DIM, pool(1), { k: 1 });
  const started = performance.now();
  await exactSearch(targets, DIM, pool(BLOCKS), { k: 50 });
  return (2 * TARGETS * BLOCK_ROWS * BLOCKS * DIM) / ((performance.now() - started) / 1000);
}
