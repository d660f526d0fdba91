import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { moduleFile, runsFromSource } from '../paths';
import type { SearchKernelName } from './kernel-choice';
import type { TileHits } from './search-kernel';

const THREAD_MAIN = moduleFile('lib/retrieval/search-thread');
export const CLOSE = 'close';

export type ThreadRequest =
  /** A search's target batches that this thread searches (normalized), kept until the search ends. */
  | { type: 'open'; search: number; dim: number; k: number; batches: { batch: number; targets: Float32Array }[] }
  | { type: 'end'; search: number }
  /** A block of normalized pool vectors in shared memory (every thread reads the same one, none writes it), kept until dropped. */
  | { type: 'block'; block: number; vectors: Float32Array; rows: number }
  | { type: 'drop'; block: number }
  /** One batch against one block; a batch's blocks must come in scan order. */
  | { type: 'search'; id: number; search: number; batch: number; block: number };

export type ThreadReply = { type: 'ready' } | { type: 'found'; id: number; found: TileHits[] } | { type: 'failed'; id?: number; message: string };

interface Pending {
  resolve(reply: ThreadReply): void;
  reject(err: Error): void;
}

/** One search thread, seen from the searching thread: requests out, replies matched by id. */
export class SearchThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private broken: Error | undefined;
  readonly ready: Promise<void>;
  private readonly exited: Promise<void>;

  constructor(kernel: SearchKernelName, onBroken: () => void) {
    // Threads do not inherit tsx's loader from every launcher (tests, tsx, node --import), so sources register it here.
    const loader = runsFromSource ? "require('tsx/cjs'); " : '';
    this.worker = new Worker(`${loader}require(${JSON.stringify(THREAD_MAIN)});`, { eval: true, workerData: { kernel } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        reject(err);
        if (this.broken) return;
        this.broken = err;
        onBroken();
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      this.worker.on('message', (reply: ThreadReply) => {
        if (reply.type === 'ready') {
          this.worker.unref();
          return resolve();
        }
        if (reply.type === 'failed' && reply.id === undefined) return fail(new Error(`search thread: ${reply.message}`));
        const p = this.pending.get(reply.id!);
        this.pending.delete(reply.id!);
        if (this.pending.size === 0) this.worker.unref();
        if (reply.type === 'failed') p?.reject(new Error(`search thread: ${reply.message}`));
        else p?.resolve(reply);
      });
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`search thread exited with code ${code}`)));
    });
    this.ready.catch(() => undefined);
  }

  /** Requests that need no reply. */
  send(request: Exclude<ThreadRequest, { type: 'search' }>): void {
    if (!this.broken) this.worker.postMessage(request);
  }

  search(request: Omit<Extract<ThreadRequest, { type: 'search' }>, 'type' | 'id'>): Promise<TileHits[]> {
    return this.request({ type: 'search', id: this.nextId++, ...request }).then((reply) => (reply as { found: TileHits[] }).found);
  }

  private request(request: ThreadRequest & { id: number }): Promise<ThreadReply> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      // Held while it works for a search; idle, it must not keep a finished process (a test, a benchmark) alive.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(request.id, { resolve, reject });
      this.worker.postMessage(request);
    });
  }

  /** Lets the thread free its sessions and end (see search-thread.ts for why it is not terminated). */
  close(): Promise<void> {
    // Held while it closes, or a process with nothing else to do would exit before the thread does.
    this.worker.ref();
    this.worker.postMessage(CLOSE);
    return this.exited;
  }
}

const pools = new Map<string, Promise<SearchThread[]>>();

/**
 * The process's search threads running `kernel`, `count` of them (one per core by default),
 * started on first use and shared by every search of the process; a pool with a broken thread is
 * replaced on next use.
 */
export function searchThreads(kernel: SearchKernelName, count = availableParallelism()): Promise<SearchThread[]> {
  const key = `${count} ${kernel}`;
  let pool = pools.get(key);
  if (!pool) {
    const threads: SearchThread[] = [];
    const onBroken = () => {
      if (pools.get(key) === pool) pools.delete(key);
      for (const thread of threads) void thread.close();
    };
    for (let i = 0; i < count; i++) threads.push(new SearchThread(kernel, onBroken));
    pool = Promise.all(threads.map((t) => t.ready)).then(() => threads);
    pools.set(key, pool);
  }
  return pool;
}

/** Stops every search thread of this process (tests and benchmarks; workers keep theirs until they exit). */
export async function closeSearchThreads(): Promise<void> {
  const all = await Promise.allSettled([...pools.values()]);
  pools.clear();
  await Promise.all(all.flatMap((p) => (p.status === 'fulfilled' ? p.value.map((t) => t.close()) : [])));
}
