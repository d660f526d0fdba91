// `npm run bench:retrieval`: the selection search at pool scale, side by side on one machine.
// For each pool (100k and 1M vectors, dimension 128 and 384; synthetic clustered unit vectors) and
// 10k targets, k = 50: the default path's queries/s and recall@k against a brute-force oracle,
// LanceDB's per-query flat search and its ANN index (build time, queries/s, recall against exact),
// the fp32 matrix-product rate, and peak memory. Last line: one JSON object, the 1M x 128 case at
// the top level and every case under `cases`. BENCH_SCALE=0.1 scales every pool (and notes it).
// The 1M x 384 case does not fit the ~12-minute budget on 2 shared cores (its exact search alone
// is 7.7 TFLOP, its index build minutes more), so by default it runs at a quarter of the pool
// (250k x 384, key `250k_384`, `large_384_scale` 0.25); BENCH_FULL=1 runs it whole.
// Side by side in every case, on the same vectors, k and threads: FAISS `IndexFlatIP` and numpy's
// OpenBLAS sgemm (bench/faiss_search.py, in the venv of infra/bench-python.cjs). septflow's figures
// are its path as a user runs it (the pool read from LanceDB included); FAISS searches vectors
// already in memory. `limit_ratio` is held to the faster of onnxruntime's Gemm and that sgemm.
// septflow's exact path runs one search thread per core (THREADS here), each multiplying on one
// core with the worker's kernel (`search_kernel`: OpenBLAS's sgemm in the native addon, or
// onnxruntime's Gemm; lib/retrieval/kernel-choice.ts), while the main thread reads the pool and
// merges; where that is the BLAS kernel, the onnxruntime kernel runs the same search right before
// and right after it (`onnx_qps` over both, `vs_onnx`), so the two compare on the same load.
// `probe_gflops` is the rate a worker measures at its first plan (lib/retrieval/machine-rates.ts),
// which the path choice uses.
// BENCH_TARGETS (default 10000) shortens a development run, with BENCH_SCALE=0.02 say.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type Table } from '@lancedb/lancedb';
import * as ort from 'onnxruntime-node';
import { ANN_QUERIES_PER_CALL, type AnnIndexKind, annParams, annSearch, ensureAnnIndex } from '../lib/retrieval/ann';
import { vectorTable } from '../lib/retrieval/arrow-vectors';
import { searchCost } from '../lib/retrieval/cost';
import { machineRates } from '../lib/retrieval/machine-rates';
import { closeSearchThreads, searchThreads } from '../lib/retrieval/search-threads';
import { loadSearchBlas } from '../lib/retrieval/blas-kernel';
import { exactSearch } from '../lib/retrieval/exact-search';
import { type SearchKernelName, workerSearchKernel } from '../lib/retrieval/kernel-choice';
import { scanPool } from '../lib/retrieval/pool-scan';
import type { Neighbour } from '../lib/retrieval/running-topk';
import { matmulGraph } from '../lib/retrieval/search-graph';
import { clusteredVectors } from '../lib/retrieval/synthetic';
import { parseRunConfig } from '../lib/config/validate';
import { seconds } from '../lib/format';
import { projectRoot } from '../lib/paths';
import { shardFilter } from '../lib/retrieval/vector-store';
import { recordBenchmark } from './record';

const { ensureBenchPython } = require('../infra/bench-python.cjs') as {
  ensureBenchPython: (o: { projectRoot: string; log: (m: string) => void }) => Promise<string>;
};
const execFileAsync = promisify(execFile);

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const LARGE_384_SCALE = process.env.BENCH_FULL === '1' ? 1 : 0.25;
const TARGETS = Number(process.env.BENCH_TARGETS ?? 10_000);
const K = 50;
/** Threads for every side: onnxruntime's intra-op pool, FAISS's OpenMP, OpenBLAS. */
const THREADS = 2;
/** Scores this close are a tie that FAISS and septflow may list in either order. */
const SCORE_TIE = 1e-5;
const FAISS_SETUP = "septflow: its exact path as a user runs it (LanceDB pool scan, normalize, search threads: the worker's kernel's matrix product + floor filter, merge); FAISS: IndexFlatIP.search on vectors already in memory (add not timed)";
const ORACLE_TARGETS = 32;
/** Targets of the batched index search (all of them where fewer). */
const ANN_BATCHED_TARGETS = 512;
const SHARD_ROWS = 1000;
const defaults = parseRunConfig({ demo: true }).retrieval;

const log = (msg: string) => process.stderr.write(`[bench:retrieval] ${msg}\n`);
const secondsSince = (since: number) => (performance.now() - since) / 1000;

/** Peak resident memory while `work` runs, sampled every 100 ms. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  try {
    const result = await work();
    return { result, peakMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The machine's fp32 matrix-product rate: a square 2048^3 Gemm in onnxruntime (the shape that
 * reaches the peak; the search's own shapes are bounded by it, and its full [2048 x 32768] score
 * output would mostly measure the copy into JavaScript).
 */
async function matmulGflops(): Promise<number> {
  const session = await ort.InferenceSession.create(matmulGraph(), { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const n = 2048;
  const square = () => new ort.Tensor('float32', clusteredVectors({ count: n, dim: n, centers: 10, seed: 5 }).vectors, [n, n]);
  const feeds = { targets: square(), pool: square() };
  await session.run(feeds);
  const runs = 6;
  const started = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  await session.release();
  return (2 * n ** 3 * runs) / secondsSince(started) / 1e9;
}

/** Brute force in float64 over the raw vectors: the oracle the default path is checked against. */
function oracle(pool: Float32Array, targets: Float32Array, dim: number, count: number): { ids: Set<string>; kth: number; distanceOf: (row: number) => number }[] {
  const rows = pool.length / dim;
  return Array.from({ length: count }, (_, t) => {
    const q = targets.subarray(t * dim, (t + 1) * dim);
    const distances = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += q[j] * pool[r * dim + j];
      distances[r] = 1 - dot;
    }
    const order = Array.from(distances.keys()).sort((a, b) => distances[a] - distances[b]).slice(0, K);
    return { ids: new Set(order.map((r) => `pool/${r}`)), kth: distances[order[K - 1]], distanceOf: (row) => distances[row] };
  });
}

/** recall@k with ties aside: a returned id counts if the oracle has it, or has it as near as its k-th. */
function oracleRecall(found: Neighbour[][], truth: ReturnType<typeof oracle>): number {
  let hits = 0;
  truth.forEach((o, t) => {
    for (const n of found[t]) if (o.ids.has(n.poolId) || o.distanceOf(Number(n.poolId.slice(5))) <= o.kth + 1e-6) hits++;
  });
  return hits / (truth.length * K);
}

/**
 * Lists the bench keeps while it times other runs: per target one string of its ids and one array
 * of its distances. Held as 500,000 Neighbour objects through septflow's second run, V8 marked them
 * again and again, and that run lost 10 to 20% to it; FAISS, in a process of its own, never pays
 * that, and a worker holds no earlier search's lists.
 */
class HeldLists {
  private readonly ids: string[];
  private readonly distances: Float64Array[];

  constructor(lists: Neighbour[][]) {
    this.ids = lists.map((list) => list.map((n) => n.poolId).join('\n'));
    this.distances = lists.map((list) => Float64Array.from(list, (n) => n.distance));
  }

  get length(): number {
    return this.ids.length;
  }

  list(t: number): Neighbour[] {
    const ids = this.ids[t].split('\n');
    return Array.from(this.distances[t], (distance, j) => ({ poolId: ids[j], distance }));
  }
}

const listAt = (lists: Neighbour[][] | HeldLists, t: number): Neighbour[] => (lists instanceof HeldLists ? lists.list(t) : lists[t]);

function recallAgainst(found: Neighbour[][] | HeldLists, exact: HeldLists): number {
  let hits = 0;
  for (let t = 0; t < found.length; t++) {
    const truth = new Set(exact.list(t).map((n) => n.poolId));
    hits += listAt(found, t).filter((n) => truth.has(n.poolId)).length;
  }
  return hits / (found.length * K);
}

/** One call of bench/faiss_search.py, with OpenMP and OpenBLAS at THREADS (read when Python loads them). */
async function pythonSide<T>(python: string, args: string[]): Promise<T> {
  const env = { ...process.env, OMP_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: String(THREADS) };
  const { stdout } = await execFileAsync(python, [join(projectRoot, 'bench', 'faiss_search.py'), ...args, '--threads', String(THREADS)], { env });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

/** OpenBLAS sgemm through numpy at the same 2048^3 as matmulGflops. */
async function blasSgemmGflops(python: string): Promise<number> {
  return (await pythonSide<{ sgemm_gflops: number }>(python, ['sgemm'])).sgemm_gflops;
}

interface FaissHits {
  /** Targets per second of each search, in order. */
  runs: number[];
  addSeconds: number;
  /** [targets x K], row-major: pool rows and inner products, best first. */
  ids: BigInt64Array;
  scores: Float32Array;
}

/** FAISS IndexFlatIP over the same unit vectors, handed over as raw float32 files it memory-maps. */
async function faissSearch(python: string, dir: string, pool: Float32Array, targets: Float32Array, dim: number, runs: number): Promise<FaissHits> {
  const files = { pool: join(dir, 'pool.f32'), targets: join(dir, 'targets.f32'), hits: join(dir, 'faiss-hits.bin') };
  const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  writeFileSync(files.pool, bytes(pool));
  writeFileSync(files.targets, bytes(targets));
  try {
    const run = await pythonSide<{ targets: number; add_s: number; search_s: number[] }>(python, ['search', '--pool', files.pool, '--targets', files.targets, '--dim', String(dim), '--k', String(K), '--hits', files.hits, '--runs', String(runs)]);
    const hits = readFileSync(files.hits);
    const places = run.targets * K;
    const copy = (from: number, byteLength: number) => hits.buffer.slice(hits.byteOffset + from, hits.byteOffset + from + byteLength);
    return { runs: run.search_s.map((s) => run.targets / s), addSeconds: run.add_s, ids: new BigInt64Array(copy(0, places * 8)), scores: new Float32Array(copy(places * 8, places * 4)) };
  } finally {
    for (const file of Object.values(files)) rmSync(file, { force: true });
  }
}

/**
 * How exactly septflow's lists are FAISS's: the share of (target, rank) places that hold the same
 * pool row, or a row whose own inner product with the target (recomputed here, so a wrong id with a
 * right score does not pass) is within SCORE_TIE of FAISS's score there: a tie listed in the other
 * order. Also the largest difference between the two scores at any place. Below 1.0 the two did
 * different work, and their rates do not compare.
 */
function faissAgreement(lists: HeldLists, faiss: FaissHits, pool: Float32Array, targets: Float32Array, dim: number): { agreement: number; maxScoreDiff: number } {
  let agree = 0;
  let maxScoreDiff = 0;
  for (let t = 0; t < lists.length; t++) {
    const list = lists.list(t);
    for (let j = 0; j < K; j++) {
      const ours = list[j];
      if (!ours) continue;
      const at = t * K + j;
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(1 - ours.distance - faiss.scores[at]));
      const row = Number(ours.poolId.slice(5));
      if (row === Number(faiss.ids[at])) {
        agree++;
        continue;
      }
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += targets[t * dim + d] * pool[row * dim + d];
      if (Math.abs(dot - faiss.scores[at]) <= SCORE_TIE) agree++;
    }
  }
  return { agreement: agree / (lists.length * K), maxScoreDiff };
}

/** Queries for `budgetSeconds` (at least `min`), `concurrency` in flight; returns queries/s and the lists. */
async function timedQueries(count: number, budgetSeconds: number, min: number, query: (t: number) => Promise<Neighbour[]>, concurrency = 2): Promise<{ qps: number; lists: Neighbour[][] }> {
  const lists: Neighbour[][] = [];
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count && (next < min || secondsSince(started) < budgetSeconds)) {
      const t = next++;
      lists[t] = await query(t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { qps: lists.length / secondsSince(started), lists };
}

async function writePool(table: string, dir: string, vectors: Float32Array, dim: number): Promise<{ table: Table; filter: string }> {
  const db = await connect(dir);
  const rows = vectors.length / dim;
  const SLICE = 100_000;
  let handle: Table | undefined;
  for (let first = 0; first < rows; first += SLICE) {
    const n = Math.min(SLICE, rows - first);
    const ids = Array.from({ length: n }, (_, i) => `pool/${first + i}`);
    const shards = ids.map((_, i) => `pool/shard-${Math.floor((first + i) / SHARD_ROWS)}`);
    const data = vectorTable({ ids, encoderId: 'bench', vectors: vectors.subarray(first * dim, (first + n) * dim), dim, columns: { shard_id: shards } });
    if (handle) await handle.add(data);
    else handle = await db.createTable(table, data, { mode: 'overwrite' });
  }
  // The workflow selects pool rows by their shards; the bench pays the same filter.
  const shardIds = Array.from({ length: Math.ceil(rows / SHARD_ROWS) }, (_, s) => `pool/shard-${s}`);
  return { table: handle!, filter: shardFilter(shardIds) };
}

interface CaseResult {
  pool: number;
  dim: number;
  default_path: 'exact' | 'ann';
  recall_at_k: number;
  /** Both runs of septflow's path together (A B B A with FAISS): 2 x targets over their seconds. */
  default_qps: number;
  /** Its first run (before FAISS's two) and its second (after them). */
  default_qps_1: number;
  default_qps_2: number;
  default_seconds: number;
  default_gflops: number;
  /** The onnxruntime kernel on the same path, right before and right after, where the worker's kernel is the BLAS one. */
  onnx_qps?: number;
  /** The first run of the default path (between the onnxruntime runs) over onnx_qps. */
  vs_onnx?: number;
  matmul_gflops: number;
  matmul_gflops_before: number;
  matmul_gflops_after: number;
  /** OpenBLAS sgemm through numpy, the higher of just before and just after FAISS. */
  blas_sgemm_gflops: number;
  /** The faster of onnxruntime's Gemm and the BLAS sgemm: what the machine's fp32 product can do. */
  best_gemm_gflops: number;
  /** default_gflops over best_gemm_gflops. */
  limit_ratio: number;
  /** default_gflops over onnxruntime's Gemm alone (what limit_ratio was before the BLAS joined). */
  ort_limit_ratio: number;
  /** FAISS's two runs together (2 x targets over their seconds), and each. */
  faiss_qps: number;
  faiss_qps_1: number;
  faiss_qps_2: number;
  faiss_gflops: number;
  faiss_add_s: number;
  /** default_qps over faiss_qps. */
  vs_faiss: number;
  faiss_agreement: number;
  faiss_max_score_diff: number;
  lance_flat_qps: number;
  lance_flat_recall: number;
  lance_ann_index: AnnIndexKind;
  lance_ann_build_s: number;
  lance_ann_qps: number;
  /** Index queries ANN_QUERIES_PER_CALL to a LanceDB call (annSearch's default), two calls in flight. */
  lance_ann_batched_qps: number;
  lance_ann_batched_vs_single: number;
  lance_ann_recall: number;
  lance_ann_batched_recall: number;
  lance_ann_nprobes: number;
  peak_rss_mb: number;
  index_comparison?: Record<string, { build_s: number; qps: number; recall: number }>;
}

async function runCase(dir: string, python: string, rows: number, dim: number, compareIndexes: boolean): Promise<CaseResult> {
  const name = `${rows}x${dim}`;
  log(`${name}: generating ${rows} x ${dim} pool and ${TARGETS} targets`);
  const pool = clusteredVectors({ count: rows, dim, centers: 1000, seed: 1, spread: 0.8 }).vectors;
  const targets = clusteredVectors({ count: TARGETS, dim, centers: 1000, seed: 2, spread: 0.8 }).vectors;
  const { table, filter } = await writePool(`pool_${name}`, dir, pool, dim);
  // The machine is shared: the Gemm rate is measured right before and right after the default
  // path, and the higher one is the limit the path is held to.
  const matmulBefore = await matmulGflops();

  // The default path: what `retrieval.search: auto` picks for 10k targets, run as the workflow runs it.
  const ann = annParams(rows, dim);
  const cost = searchCost({ targets: TARGETS, rows, dim, targetChunk: defaults.targetChunk, ann, indexReady: false, rates: await machineRates() });
  log(`${name}: estimated exact ${seconds(cost.exactSeconds, 1)}, ann ${seconds(cost.annSeconds, 1)} -> ${cost.choice}; matmul ${matmulBefore.toFixed(1)} GFLOP/s`);
  const timedPath = async (kernel: SearchKernelName) => {
    const started = performance.now();
    const lists: Neighbour[][] = [];
    for (let first = 0; first < TARGETS; first += defaults.targetChunk) {
      const chunk = targets.subarray(first * dim, Math.min(TARGETS, first + defaults.targetChunk) * dim);
      const top = await exactSearch(chunk, dim, scanPool(table, { filter, blockRows: defaults.blockRows, dim }), { k: K, threads: THREADS, kernel });
      for (let t = 0; t < top.targets; t++) lists.push(top.neighbours(t));
    }
    const seconds = secondsSince(started);
    return { lists: new HeldLists(lists), seconds };
  };
  const kernel = workerSearchKernel();
  // Started before the clock: a worker starts its search threads once for its life (and FAISS's import is not timed either).
  await Promise.all([searchThreads('onnx', THREADS), searchThreads(kernel, THREADS)]);
  // Its lists are dropped at once: lists the bench holds are marked by V8 again and again while the next path runs.
  const onnxBefore = kernel === 'onnx' ? undefined : (await timedPath('onnx')).seconds;
  const { result: run, peakMb } = await withPeakRss(() => timedPath(kernel));
  const { lists: exact, seconds: exactSeconds } = run;
  let onnx: { qps: number; agreement: number } | undefined;
  if (onnxBefore !== undefined) {
    const onnxAfter = await timedPath('onnx');
    onnx = { qps: (2 * TARGETS) / (onnxBefore + onnxAfter.seconds), agreement: recallAgainst(onnxAfter.lists, exact) };
    log(`${name}: onnx kernel ${(TARGETS / onnxBefore).toFixed(0)} / ${(TARGETS / onnxAfter.seconds).toFixed(0)} targets/s before / after ${kernel} ${(TARGETS / exactSeconds).toFixed(0)}; lists agree at ${onnx.agreement.toFixed(5)}`);
  }
  const matmulAfter = await matmulGflops();
  const matmul = Math.max(matmulBefore, matmulAfter);
  log(`${name}: exact ${seconds(exactSeconds, 1)} = ${(TARGETS / exactSeconds).toFixed(0)} targets/s; matmul after ${matmulAfter.toFixed(1)} GFLOP/s`);
  const truth = oracle(pool, targets, dim, ORACLE_TARGETS);
  const recall = oracleRecall(Array.from({ length: ORACLE_TARGETS }, (_, t) => exact.list(t)), truth);

  // FAISS twice, then septflow's path again: A B B A, so that a drift of the shared machine's
  // speed over the case weighs on both sides alike; each side's rate is over both its runs.
  const blasBefore = await blasSgemmGflops(python);
  const faiss = await faissSearch(python, dir, pool, targets, dim, 2);
  const blasAfter = await blasSgemmGflops(python);
  const second = await timedPath(kernel);
  if (recallAgainst(second.lists, exact) !== 1) throw new Error(`${name}: the second run of the exact path listed other neighbours than the first`);
  const defaultQps = (2 * TARGETS) / (exactSeconds + second.seconds);
  const faissQps = faiss.runs.length / faiss.runs.reduce((sum, qps) => sum + 1 / qps, 0);
  const achieved = (2 * rows * dim * defaultQps) / 1e9;
  const blas = Math.max(blasBefore, blasAfter);
  const bestGemm = Math.max(matmul, blas);
  const match = faissAgreement(exact, faiss, pool, targets, dim);
  const faissGflops = (2 * rows * dim * faissQps) / 1e9;
  log(`${name}: FAISS ${faiss.runs.map((q) => q.toFixed(0)).join(' / ')} targets/s, ${faissGflops.toFixed(1)} GFLOP/s (add ${seconds(faiss.addSeconds, 1)}, not timed); agreement ${match.agreement.toFixed(5)} (max score diff ${match.maxScoreDiff.toExponential(2)}); numpy sgemm ${blasBefore.toFixed(1)} / ${blasAfter.toFixed(1)} GFLOP/s`);
  log(`${name}: exact again ${(TARGETS / second.seconds).toFixed(0)} targets/s; A B B A: septflow ${defaultQps.toFixed(0)}, FAISS ${faissQps.toFixed(0)} targets/s, vs_faiss ${(defaultQps / faissQps).toFixed(3)}`);

  const flatQuery = async (t: number) => {
    const result = await table.vectorSearch(targets.subarray(t * dim, (t + 1) * dim)).distanceType('cosine').select(['id', '_distance']).limit(K).toArray();
    return result.map((r: { id: string; _distance: number }) => ({ poolId: r.id, distance: r._distance }));
  };
  const flat = await timedQueries(TARGETS, 6, 2, flatQuery);
  log(`${name}: lance flat ${flat.qps.toFixed(2)} q/s`);

  const measureIndex = async (kind: AnnIndexKind) => {
    const params = annParams(rows, dim, { index: kind });
    const built = await ensureAnnIndex(table, params);
    const one = async (t: number) => (await annSearch(table, targets.subarray(t * dim, (t + 1) * dim), dim, { k: K, params, concurrency: 1 }))[0];
    const run = await timedQueries(TARGETS, 8, 100, one);
    // The same search with ANN_QUERIES_PER_CALL targets per LanceDB call, two calls in flight, as the selection and dedup run it.
    const batch = Math.min(TARGETS, ANN_BATCHED_TARGETS);
    const started = performance.now();
    const batched = await annSearch(table, targets.subarray(0, batch * dim), dim, { k: K, params });
    const batchedQps = batch / secondsSince(started);
    const r = { build_s: built.seconds, qps: run.qps, batched_qps: batchedQps, recall: recallAgainst(run.lists, exact), batched_recall: recallAgainst(batched, exact), nprobes: params.nprobes };
    log(`${name}: ${kind} build ${seconds(r.build_s, 1)}, ${r.qps.toFixed(1)} q/s one per call, ${batchedQps.toFixed(1)} q/s ${ANN_QUERIES_PER_CALL} per call; recall ${r.recall.toFixed(4)} / ${r.batched_recall.toFixed(4)}`);
    return r;
  };
  const comparison: CaseResult['index_comparison'] = {};
  if (compareIndexes) for (const kind of ['ivf-pq', 'hnsw-sq'] as const) comparison[kind] = await measureIndex(kind);
  const def = await measureIndex(ann.index);
  await (await connect(dir)).dropTable(`pool_${name}`);
  return {
    pool: rows,
    dim,
    default_path: cost.choice,
    recall_at_k: recall,
    default_qps: defaultQps,
    default_qps_1: TARGETS / exactSeconds,
    default_qps_2: TARGETS / second.seconds,
    default_seconds: TARGETS / defaultQps,
    default_gflops: achieved,
    ...(onnx ? { onnx_qps: onnx.qps, vs_onnx: TARGETS / exactSeconds / onnx.qps } : {}),
    matmul_gflops: matmul,
    matmul_gflops_before: matmulBefore,
    matmul_gflops_after: matmulAfter,
    blas_sgemm_gflops: blas,
    best_gemm_gflops: bestGemm,
    limit_ratio: achieved / bestGemm,
    ort_limit_ratio: achieved / matmul,
    faiss_qps: faissQps,
    faiss_qps_1: faiss.runs[0],
    faiss_qps_2: faiss.runs[1],
    faiss_gflops: faissGflops,
    faiss_add_s: faiss.addSeconds,
    vs_faiss: defaultQps / faissQps,
    faiss_agreement: match.agreement,
    faiss_max_score_diff: match.maxScoreDiff,
    lance_flat_qps: flat.qps,
    lance_flat_recall: recallAgainst(flat.lists, exact),
    lance_ann_index: ann.index,
    lance_ann_build_s: def.build_s,
    lance_ann_qps: def.qps,
    lance_ann_batched_qps: def.batched_qps,
    lance_ann_batched_vs_single: def.batched_qps / def.qps,
    lance_ann_recall: def.recall,
    lance_ann_batched_recall: def.batched_recall,
    lance_ann_nprobes: def.nprobes,
    peak_rss_mb: peakMb,
    ...(compareIndexes ? { index_comparison: comparison } : {}),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'septflow-bench-retrieval-'));
  const started = performance.now();
  const loadStart = loadavg();
  log(`load average at start: ${loadStart.map((l) => l.toFixed(2)).join(' ')}`);
  try {
    const python = await ensureBenchPython({ projectRoot, log });
    const versions = await pythonSide<{ faiss: string; numpy: string }>(python, ['versions']);
    log(`${FAISS_SETUP}; ${THREADS} threads each; faiss-cpu ${versions.faiss}, numpy ${versions.numpy}`);
    const kernel = workerSearchKernel();
    const openblas = kernel === 'blas' ? loadSearchBlas().addon?.config() : undefined;
    log(`septflow's search kernel: ${kernel}${openblas ? ` (${openblas})` : ''}`);
    const cases: Record<string, CaseResult> = {};
    const sizes = [100_000, 1_000_000].map((n) => Math.round(n * SCALE));
    const key = (rows: number, dim: number) => `${rows >= 1e6 ? `${rows / 1e6}M` : `${Math.round(rows / 1000)}k`}_${dim}`;
    for (const rows of sizes) {
      for (const dim of [128, 384]) {
        const scaled = rows === sizes[1] && dim === 384 ? Math.round(rows * LARGE_384_SCALE) : rows;
        cases[key(scaled, dim)] = await runCase(dir, python, scaled, dim, rows === sizes[0] && dim === 128);
      }
    }
    const main = cases[key(sizes[1], 128)];
    const round = (v: unknown): unknown => (typeof v === 'number' ? Number(v.toPrecision(4)) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)])) : v);
    const loadEnd = loadavg();
    log(`done in ${seconds(secondsSince(started))}; load average at end: ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
    const probe = (await machineRates()).matmulFlops / 1e9;
    const setup = { targets: TARGETS, k: K, threads: THREADS, search_kernel: kernel, ...(openblas ? { openblas } : {}), probe_gflops: probe, faiss_version: versions.faiss, numpy_version: versions.numpy, faiss_setup: FAISS_SETUP };
    const load = { load_avg_1m_start: loadStart[0], load_avg_1m_end: loadEnd[0] };
    recordBenchmark('retrieval', round({ ...main, ...setup, scale: SCALE, large_384_scale: LARGE_384_SCALE, ...load, total_seconds: secondsSince(started), cases }) as object);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await closeSearchThreads();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
