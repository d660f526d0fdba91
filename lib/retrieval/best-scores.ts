/**
 * Each target's k best scores so far, as a min-heap per target: its least is the floor a later
 * score must reach. A batch is searched by one thread only, so its floors are as high as the
 * searching thread's lists ever get, without waiting for them.
 */
export class BestScores {
  /** [targets x k]: target t's heap at t * k, its least first. The BLAS kernel pushes into them in place, the same way. */
  readonly heaps: Float32Array;
  /** How many of each target's k places are taken. */
  readonly sizes: Uint32Array;

  constructor(
    readonly targets: number,
    readonly k: number,
  ) {
    this.heaps = new Float32Array(targets * k);
    this.sizes = new Uint32Array(targets);
  }

  full(): boolean {
    return this.sizes.every((size) => size === this.k);
  }

  /** Each target's least kept score; only once full(). */
  floors(): Float32Array {
    return Float32Array.from({ length: this.targets }, (_, t) => this.heaps[t * this.k]);
  }

  /** Keeps the score if the target has fewer than k or it beats the least (which it replaces). */
  push(target: number, score: number): void {
    const { heaps, k } = this;
    const base = target * k;
    if (this.sizes[target] < k) {
      // Up from the end.
      let at = this.sizes[target]++;
      while (at > 0 && heaps[base + ((at - 1) >> 1)] > score) {
        heaps[base + at] = heaps[base + ((at - 1) >> 1)];
        at = (at - 1) >> 1;
      }
      heaps[base + at] = score;
      return;
    }
    if (score <= heaps[base]) return;
    // Down from the root, in place of the least.
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= k) break;
      if (child + 1 < k && heaps[base + child + 1] < heaps[base + child]) child++;
      if (heaps[base + child] >= score) break;
      heaps[base + at] = heaps[base + child];
      at = child;
    }
    heaps[base + at] = score;
  }
}
