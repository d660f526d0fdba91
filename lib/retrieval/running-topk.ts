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
 * The k nearest pool samples of each target seen so far. Candidates are offered one at a time and
 * mostly turned away by one comparison with the k-th; ids are resolved only for candidates that
 * make the list (or tie with it), so a scan never decodes the ids of the whole pool.
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
   * Offers one candidate (a pool row of the block being merged) to a target's list: it takes its
   * place if the list is not full or it is nearer than the k-th; equal distances go by pool id, so
   * the list is the same whatever order candidates come in. Ids are decoded only when needed.
   */
  offer(target: number, distance: number, row: number, idOf: (row: number) => string): void {
    const base = target * this.k;
    const have = this.filled[target];
    let place = base + have;
    let id: string | undefined;
    if (have === this.k) {
      place--;
      if (distance > this.distances[place]) return;
      if (distance === this.distances[place] && (id = idOf(row)) >= this.ids[place]) return;
    } else this.filled[target] = have + 1;
    for (; place > base; place--) {
      const before = this.distances[place - 1];
      if (before < distance || (before === distance && this.ids[place - 1] < (id ??= idOf(row)))) break;
      this.distances[place] = before;
      this.ids[place] = this.ids[place - 1];
    }
    this.distances[place] = distance;
    this.ids[place] = id ?? idOf(row);
  }

  /** Target t's neighbours, nearest first (fewer than k only when the pool is smaller than k). */
  neighbours(target: number): Neighbour[] {
    const base = target * this.k;
    return Array.from({ length: this.filled[target] }, (_, m) => ({ poolId: this.ids[base + m], distance: this.distances[base + m] }));
  }
}
