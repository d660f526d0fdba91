import { Worker } from 'node:worker_threads';
import { EncoderError } from '../encoder/errors';
import type { EncoderSpec } from '../encoder/spec';
import { moduleFile, runsFromSource } from '../paths';
import { type BatchResult, CLOSE, packBatch, type ThreadMessage } from './thread-protocol';

/** Batches queued per thread: one computing, one decoding, so a thread never waits for its next batch. */
const PER_THREAD = 2;
const THREAD_MAIN = moduleFile('lib/embed/embed-thread');

interface Pending {
  images: Buffer[];
  resolve(result: BatchResult): void;
  reject(err: Error): void;
}

class EmbedThread {
  readonly worker: Worker;
  readonly inFlight = new Map<number, Pending>();
  readonly exited: Promise<void>;

  constructor(spec: EncoderSpec) {
    // Threads do not inherit tsx's loader from every launcher (tests, tsx, node --import), so sources register it here.
    const loader = runsFromSource ? "require('tsx/cjs'); " : '';
    this.worker = new Worker(`${loader}require(${JSON.stringify(THREAD_MAIN)});`, { eval: true, workerData: spec });
    // Idle threads must not keep a finished process (a test, a benchmark) alive.
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Lets the thread free its session and end (see embed-thread.ts for why it is not terminated). */
  close(): Promise<void> {
    // Held while it closes, or a process with nothing else to do would exit before the thread does.
    this.worker.ref();
    this.worker.postMessage(CLOSE);
    return this.exited;
  }
}

/**
 * A process-wide pool of embed threads for one encoder. Any number of shards (activities) submit
 * batches; the threads take them as they free up, so concurrency follows the cores, not the
 * number of activities.
 */
export class Embedder {
  readonly ready: Promise<{ dims: number }>;
  private readonly threads: EmbedThread[];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private broken: Error | undefined;

  private constructor(spec: EncoderSpec, onBroken: () => void) {
    this.threads = Array.from({ length: spec.threads }, () => new EmbedThread(spec));
    const fail = (err: Error) => {
      if (this.broken) return;
      this.broken = err;
      onBroken();
      for (const thread of this.threads) {
        for (const p of thread.inFlight.values()) p.reject(err);
        thread.inFlight.clear();
        void thread.close();
      }
      for (const p of this.queue.splice(0)) p.reject(err);
    };
    const readies = this.threads.map(
      (thread) =>
        new Promise<number>((resolve, reject) => {
          thread.worker.on('message', (message: ThreadMessage) => {
            if (message.type === 'ready') resolve(message.dims);
            else if (message.type === 'result') this.settle(thread, message.id, (p) => p.resolve(message.result));
            else {
              const err = message.error.problem ? new EncoderError(message.error.problem, message.error.message) : new Error(message.error.message);
              if (message.id === undefined) {
                reject(err);
                fail(err);
              } else this.settle(thread, message.id, (p) => p.reject(err));
            }
          });
          thread.worker.on('error', (err) => {
            reject(err);
            fail(err);
          });
          thread.worker.on('exit', (code) => fail(new Error(`embed thread exited with code ${code}`)));
        }),
    );
    this.ready = Promise.all(readies).then((dims) => ({ dims: dims[0] }));
    this.ready.catch(() => undefined);
  }

  private static readonly pools = new Map<string, Embedder>();

  /** The process's pool for this encoder spec, started on first use and kept while it works. */
  static of(spec: EncoderSpec): Embedder {
    const key = JSON.stringify(spec);
    let embedder = Embedder.pools.get(key);
    if (!embedder) {
      embedder = new Embedder(spec, () => Embedder.pools.delete(key));
      Embedder.pools.set(key, embedder);
    }
    return embedder;
  }

  /** Stops every pool of this process (tests and benchmarks; workers keep theirs until they exit). */
  static async closeAll(): Promise<void> {
    const pools = [...Embedder.pools.values()];
    Embedder.pools.clear();
    await Promise.all(pools.flatMap((pool) => pool.threads.map((t) => t.close())));
  }

  embed(images: Buffer[]): Promise<BatchResult> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.queue.push({ images, resolve, reject });
      this.dispatch();
    });
  }

  private settle(thread: EmbedThread, id: number, how: (p: Pending) => void): void {
    const pending = thread.inFlight.get(id);
    if (!pending) return;
    thread.inFlight.delete(id);
    how(pending);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const thread = this.threads.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
      if (thread.inFlight.size >= PER_THREAD) return;
      const pending = this.queue.shift()!;
      const id = this.nextId++;
      const request = packBatch(id, pending.images);
      thread.inFlight.set(id, pending);
      thread.worker.postMessage(request, [request.bytes.buffer as ArrayBuffer, request.offsets.buffer as ArrayBuffer]);
    }
  }
}
