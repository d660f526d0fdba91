/** One retrieved neighbour of a target: the pool sample and its cosine distance (1 - similarity). */
export interface Neighbour {
  poolId: string;
  distance: number;
}

/** Nearer first; equal distances by pool id, so merges in any order give the same list. */
export function compareNeighbours(a: Neighbour, b: Neighbour): number {
  return a.distance - b.distance || (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0);
}

/**
 * The k nearest pool samples of each target seen so far. Blocks of candidates (each target's best
 * from one pool block, nearest first) merge in linear time per target; ids are resolved only for
 * candidates that make the list, so a scan never decodes the ids of the whole pool.
 */
export class RunningTopK {
  private readonly distances: Float64Array;
  private readonly ids: string[];
  private readonly filled: Uint32Array;

  constructor(
    readonly targets: number,
    readonly k: number,
  ) {
    this.distances = new Float64Array(targets * k);
    this.ids = new Array<string>(targets * k);
    this.filled = new Uint32Array(targets);
  }

  /**
   * Merges `width` candidates per target for targets [first, first + count): candidate j of target t
   * has distance `distances[t * width + j]` and pool id `idOf(rows[t * width + j])`, sorted nearest first.
   */
  mergeBlock(first: number, count: number, width: number, distances: ArrayLike<number>, rows: ArrayLike<number | bigint>, idOf: (row: number) => string): void {
    const k = this.k;
    const mergedD = new Float64Array(k);
    const mergedId = new Array<string>(k);
    for (let t = 0; t < count; t++) {
      const target = first + t;
      const base = target * k;
      const have = this.filled[target];
      // Once a target's list is full, most blocks hold nothing nearer than its k-th: skip them whole.
      if (have === k && distances[t * width] > this.distances[base + k - 1]) continue;
      let i = 0;
      let j = 0;
      let n = 0;
      let candidateId: string | undefined;
      while (n < k && (i < have || j < width)) {
        const cd = j < width ? distances[t * width + j] : Infinity;
        let takeCandidate = i >= have || cd < this.distances[base + i];
        if (!takeCandidate && j < width && cd === this.distances[base + i]) {
          candidateId ??= idOf(Number(rows[t * width + j]));
          takeCandidate = candidateId < this.ids[base + i];
        }
        if (takeCandidate) {
          mergedD[n] = cd;
          mergedId[n] = candidateId ?? idOf(Number(rows[t * width + j]));
          candidateId = undefined;
          j++;
        } else {
          mergedD[n] = this.distances[base + i];
          mergedId[n] = this.ids[base + i];
          i++;
        }
        n++;
      }
      this.distances.set(mergedD.subarray(0, n), base);
      for (let m = 0; m < n; m++) this.ids[base + m] = mergedId[m];
      this.filled[target] = n;
    }
  }

  /** Target t's neighbours, nearest first (fewer than k only when the pool is smaller than k). */
  neighbours(target: number): Neighbour[] {
    const base = target * this.k;
    return Array.from({ length: this.filled[target] }, (_, m) => ({ poolId: this.ids[base + m], distance: this.distances[base + m] }));
  }
}
