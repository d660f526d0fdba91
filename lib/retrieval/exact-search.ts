import { loadSearchBlas } from './blas-kernel';
import { RetrievalInputError } from './errors';
import { type SearchKernelName, workerSearchKernel } from './kernel-choice';
import { normalizeRows, normalizeRowsInto } from './normalize';
import { RunningTopK } from './running-topk';
import { GROUP } from './search-kernel';
import { type SearchThread, searchThreads } from './search-threads';

/** A block of pool vectors, as streamed from the store: `vectors` holds ids.length rows of `dim` floats. */
export interface PoolBlock {
  vectors: Float32Array;
  /**
   * The pool id of row r, decoded on demand (most rows of a block never become a hit). Held for a
   * while after the block is searched (idWindowRows), so it should hold the block's ids, not its vectors.
   */
  idOf(row: number): string;
  rows: number;
}

export interface ExactSearchOptions {
  k: number;
  /** Targets per matrix product at most: larger amortizes the pool read, smaller bounds the memory of its scores. */
  targetBatch?: number;
  /** Search threads (each multiplying on its own core); one per core by default. */
  threads?: number;
  /** The kernel the threads multiply with: the worker's (SEPT_SEARCH_KERNEL) by default; both are exact. */
  kernel?: SearchKernelName;
  /**
   * Pool rows whose ids stay readable after their block is searched (2^20 by default, the memory
   * of their ids): most hits of a block are pushed out of the lists by the next few blocks, and
   * those never have their ids decoded.
   */
  idWindowRows?: number;
  /** Called after each pool block, e.g. to heartbeat. */
  onBlock?: (rowsScanned: number) => void | Promise<void>;
}

/** Blocks handed to the threads at once: one being searched while the next is read, bounding memory. */
const BLOCKS_IN_FLIGHT = 2;
// Searches and blocks are named across searches: the threads are the process's, shared by every search in it.
let nextSearch = 0;
let nextBlock = 0;

interface TargetBatch {
  /** Its name in its thread. */
  batch: number;
  first: number;
  n: number;
  thread: SearchThread;
}

/**
 * Exact cosine top-k of every target over a pool streamed once in blocks. The matrix products run
 * in search threads (search-kernel.ts), each on its own target batches, while this thread reads
 * the next block and merges what the threads found: per batch, a TopK until its lists are full,
 * then only the scores that reach its floor, offered to the running top-k. Offers give the same
 * lists in any order, so neither the threads' timing nor how stale a floor is changes the result.
 * Targets are L2-normalized here, and pool blocks as they arrive, so unnormalized stores still
 * give cosine distances.
 */
export async function exactSearch(targets: Float32Array, dim: number, pool: AsyncIterable<PoolBlock>, opts: ExactSearchOptions): Promise<RunningTopK> {
  const count = targets.length / dim;
  if (!Number.isInteger(count) || count === 0) throw new RetrievalInputError('exact search: the target set is empty');
  if (!Number.isInteger(opts.k) || opts.k <= 0) throw new RetrievalInputError(`exact search: k must be a positive integer, got ${opts.k}`);
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads > 0)) throw new RetrievalInputError(`exact search: threads must be a positive integer, got ${opts.threads}`);
  const threads = await searchThreads(opts.kernel ?? workerSearchKernel(), opts.threads);
  const batches = targetBatches(count, opts.targetBatch ?? 2048, threads);
  const unit = normalizeRows(Float32Array.from(targets), dim);
  const search = nextSearch++;
  for (const thread of threads) {
    const own = batches.filter((b) => b.thread === thread).map((b) => ({ batch: b.batch, targets: unit.slice(b.first * dim, (b.first + b.n) * dim) }));
    thread.send({ type: 'open', search, dim, k: opts.k, batches: own });
  }
  const top = new RunningTopK(count, opts.k);
  const idWindowRows = opts.idWindowRows ?? 2 ** 20;
  const inFlight: { block: number; rows: number; searched: Promise<void> }[] = [];
  const readable: { block: number; rows: number }[] = [];
  let readableRows = 0;
  let scanned = 0;
  const spare: SharedArrayBuffer[] = [];
  const finishOldest = async () => {
    const { block, rows, searched } = inFlight.shift()!;
    await searched;
    readable.push({ block, rows });
    const retiring: number[] = [];
    for (readableRows += rows; readableRows > idWindowRows; readableRows -= readable.shift()!.rows) retiring.push(readable[0].block);
    if (retiring.length > 0) top.retire(retiring);
    scanned += rows;
    await opts.onBlock?.(scanned);
  };
  try {
    for await (const block of readAhead(pool)) {
      if (block.rows === 0) continue;
      if (block.vectors.length !== block.rows * dim) {
        throw new RetrievalInputError(`exact search: pool vectors have dimension ${block.vectors.length / block.rows}, targets ${dim}`);
      }
      const name = nextBlock++;
      const searched = searchBlock(search, name, block, dim, batches, threads, top, spare);
      // Awaited in turn by finishOldest, which sees its failure; until then it must not count as unhandled.
      searched.catch(() => undefined);
      inFlight.push({ block: name, rows: block.rows, searched });
      if (inFlight.length === BLOCKS_IN_FLIGHT) await finishOldest();
    }
    while (inFlight.length > 0) await finishOldest();
    top.retire(readable.map((b) => b.block));
  } finally {
    // A failed search still lets its blocks leave the threads before it returns.
    await Promise.allSettled(inFlight.map((b) => b.searched));
    for (const thread of threads) thread.send({ type: 'end', search });
  }
  return top;
}

/**
 * Batches of at most `size` targets, as many for each thread (thread i takes batches i, i + n, …),
 * so every thread has the same work in every block.
 */
function targetBatches(count: number, size: number, threads: SearchThread[]): TargetBatch[] {
  const per = Math.ceil(count / Math.min(count, threads.length * Math.ceil(count / (threads.length * size))));
  return Array.from({ length: Math.ceil(count / per) }, (_, batch) => ({ batch, first: batch * per, n: Math.min(per, count - batch * per), thread: threads[batch % threads.length] }));
}

/**
 * Pool blocks are normalized on the searching thread, whichever kernel the threads run: by the BLAS
 * addon where setup built it (normalizeRowsInto's arithmetic bit for bit, in C: 0.7 s of main-thread
 * time per 100k x 384 search in JavaScript), else in JavaScript.
 */
function normalizeBlock(to: Float32Array, from: Float32Array, dim: number): void {
  const addon = loadSearchBlas().addon;
  if (addon) addon.normalize(to, from, dim);
  else normalizeRowsInto(to, from, dim);
}

/**
 * Searches one block in every batch: hands it (normalized, padded to whole groups) to the threads,
 * merges, drops it (its ids stay with `top`). Its shared memory comes from `spare` when one there is
 * large enough, and goes back to it once the threads have dropped the block: a fresh one per block
 * cost the searching thread its page faults and the collector its external memory.
 */
async function searchBlock(search: number, block: number, pool: PoolBlock, dim: number, batches: TargetBatch[], threads: SearchThread[], top: RunningTopK, spare: SharedArrayBuffer[]): Promise<void> {
  const length = Math.ceil(pool.rows / GROUP) * GROUP * dim;
  const at = spare.findIndex((b) => b.byteLength >= length * Float32Array.BYTES_PER_ELEMENT);
  // In shared memory: every thread reads the same block, and none writes it.
  // Blocks only grow until the last: spares too small now are let go.
  if (at < 0) spare.length = 0;
  const memory = at >= 0 ? spare.splice(at, 1)[0] : new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT);
  const vectors = new Float32Array(memory, 0, length);
  normalizeBlock(vectors, pool.vectors, dim);
  vectors.fill(0, pool.rows * dim);
  top.addBlock(block, pool.idOf);
  for (const thread of threads) thread.send({ type: 'block', block, vectors, rows: pool.rows });
  try {
    await Promise.all(
      batches.map(async (b) => {
        for (const hits of await b.thread.search({ search, batch: b.batch, block })) top.offerHits(b.first, block, hits);
      }),
    );
  } finally {
    for (const thread of threads) thread.send({ type: 'drop', block });
    // Every search of the block has answered, and a thread handles the drop before any later block: no kernel reads it again.
    spare.push(memory);
  }
}

/**
 * The pool's blocks with the next one always asked for: the store reads and decodes it while the
 * threads search this one.
 */
async function* readAhead<T>(blocks: AsyncIterable<T>): AsyncGenerator<T> {
  const it = blocks[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = it.next();
      // Awaited on the next turn; a consumer that stops first must not leave its failure unhandled.
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    await it.return?.();
  }
}
