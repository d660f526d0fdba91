/**
 * The trainers one sept-gpu worker process runs at once, whichever of its task queues they came
 * from: `sept-gpu` and the worker's own queue (lib/trainer/gang-node.ts) are two Temporal workers,
 * each with activity slots of its own, so without this a worker would start a gang node's trainer
 * beside another run's, on the same GPUs. Waiters are served first come, first served; a waiter
 * whose activity is cancelled leaves the line.
 */
export class TrainerSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private limit = Number.POSITIVE_INFINITY) {}

  /** Sizes the slots (runWorker: SEPT_GPU_ACTIVITY_CONCURRENCY). */
  resize(limit: number): void {
    this.limit = limit;
  }

  /** Whether a trainer would start now without waiting: what a gang's claim of this worker asks. */
  free(): boolean {
    return this.running < this.limit && this.waiting.length === 0;
  }

  /**
   * A slot, now or when one frees (`onWait` is told when it must wait); resolves to its release.
   * Rejects with the signal's reason if it aborts first.
   */
  async acquire(signal: AbortSignal, onWait?: () => void): Promise<() => void> {
    signal.throwIfAborted();
    if (this.free()) this.running++;
    else {
      onWait?.();
      await new Promise<void>((resolve, reject) => {
        const served = () => {
          signal.removeEventListener('abort', left);
          resolve();
        };
        const left = () => {
          this.waiting.splice(this.waiting.indexOf(served), 1);
          reject(signal.reason);
        };
        this.waiting.push(served);
        signal.addEventListener('abort', left, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A freed slot passes straight to the first waiter: nobody arriving later overtakes it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}

/** This worker process's trainer slots; unsized (a test's in-process worker, which polls one queue) they admit every trainer. */
export const trainerSlots = new TrainerSlots();
