import { loadSearchBlas, type SearchBlasAddon } from './blas-kernel';
import type { TileHits } from './search-kernel';

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
 * The k nearest pool samples of each target seen so far: per target a heap of k, its farthest on
 * top, so that most candidates are turned away by one comparison and one that enters costs log k
 * moves of numbers. A candidate is a row of a pool block; its id is decoded only when a tie needs
 * it or when its block is retired while it is still listed, so that candidates a later block
 * pushes out are never decoded, and a retired block's ids are no longer held. The exact search's
 * hits come in bulk (offerHits): the BLAS addon offers those that meet no tie (native/search-blas/merge.c).
 */
export class RunningTopK {
  /** Per place (target t's at t * k, its heap): the distance and the candidate held there. */
  private readonly distances: Float64Array;
  private readonly held: Int32Array;
  private readonly filled: Uint32Array;
  /** Per candidate (target t's are t * k .. t * k + k - 1, each reused when pushed out): its block, row, and id once decoded. */
  private readonly blockOf: Int32Array;
  private readonly rowOf: Int32Array;
  private readonly decoded: Uint8Array;
  private readonly ids: string[];
  /** neighbours()'s sort, one list at a time. */
  private readonly sortDistances: Float64Array;
  private readonly sortHeld: Int32Array;
  /** The id readers of the blocks not yet retired. */
  private readonly blocks = new Map<number, (row: number) => string>();

  /**
   * `native`: the addon that offers hits in bulk, the worker's own by default (null: JavaScript
   * only, as where setup could not build it).
   */
  constructor(
    readonly targets: number,
    readonly k: number,
    private readonly native: SearchBlasAddon | null = loadSearchBlas().addon ?? null,
  ) {
    this.distances = new Float64Array(targets * k);
    this.held = new Int32Array(targets * k);
    this.filled = new Uint32Array(targets);
    this.blockOf = new Int32Array(targets * k).fill(-1);
    this.rowOf = new Int32Array(targets * k);
    this.decoded = new Uint8Array(targets * k);
    this.ids = new Array<string>(targets * k);
    this.sortDistances = new Float64Array(k);
    this.sortHeld = new Int32Array(k);
  }

  /** Block `block`'s rows may be offered from now on; `idOf` is held until the block is retired. */
  addBlock(block: number, idOf: (row: number) => string): void {
    this.blocks.set(block, idOf);
  }

  /** No more rows of these blocks come: the ids of their rows still listed are decoded (one pass), and their readers let go. */
  retire(blocks: readonly number[]): void {
    const retiring = new Set(blocks);
    for (let c = 0; c < this.blockOf.length; c++) {
      const block = this.blockOf[c];
      if (block < 0 || !retiring.has(block)) continue;
      this.idOf(c);
      this.blockOf[c] = -1;
    }
    for (const block of retiring) this.blocks.delete(block);
  }

  /**
   * Offers row `row` of block `block` (added, not retired) to a target's list: it takes a place if
   * the list is not full or it is nearer than the farthest; equal distances go by pool id, so the
   * list is the same whatever order candidates come in.
   */
  offer(target: number, distance: number, block: number, row: number): void {
    const { k, distances, held } = this;
    const base = target * k;
    const have = this.filled[target];
    if (have < k) {
      const c = base + have;
      this.hold(c, block, row);
      this.filled[target] = have + 1;
      // Up from the end while the parent is nearer.
      let at = have;
      while (at > 0) {
        const up = (at - 1) >> 1;
        if (!this.farther(distance, c, distances[base + up], held[base + up])) break;
        distances[base + at] = distances[base + up];
        held[base + at] = held[base + up];
        at = up;
      }
      distances[base + at] = distance;
      held[base + at] = c;
      return;
    }
    if (distance > distances[base]) return;
    const c = held[base];
    if (distance === distances[base] && this.idOf(c) <= this.blocks.get(block)!(row)) return;
    this.hold(c, block, row);
    this.pushDown(distances, held, base, k, distance, c);
  }

  /**
   * Offers what a target batch found in block `block`: hit i is row `rows[i]` for target
   * `first + targets[i]`, at distance 1 - `scores[i]` in float64 (exact, so equal scores stay equal
   * distances). The same lists as offering each in turn.
   */
  offerHits(first: number, block: number, { targets, rows, scores }: TileHits): void {
    if (!this.native) {
      for (let i = 0; i < scores.length; i++) this.offer(first + targets[i], 1 - scores[i], block, rows[i]);
      return;
    }
    const tied = this.native.offer(this.distances, this.held, this.filled, this.blockOf, this.rowOf, this.decoded, first, block, targets, rows, scores);
    for (const i of tied) this.offer(first + targets[i], 1 - scores[i], block, rows[i]);
  }

  /** Target t's neighbours, nearest first (fewer than k only when the pool is smaller than k). */
  neighbours(target: number): Neighbour[] {
    const base = target * this.k;
    const size = this.filled[target];
    // Heapsort of a copy, in scratch arrays kept for every target: the farthest left goes to the end, one at a time.
    const { sortDistances: distances, sortHeld: held } = this;
    for (let m = 0; m < size; m++) {
      distances[m] = this.distances[base + m];
      held[m] = this.held[base + m];
    }
    for (let end = size - 1; end > 0; end--) {
      const distance = distances[end];
      const c = held[end];
      distances[end] = distances[0];
      held[end] = held[0];
      this.pushDown(distances, held, 0, end, distance, c);
    }
    const list = new Array<Neighbour>(size);
    for (let m = 0; m < size; m++) list[m] = { poolId: this.idOf(held[m]), distance: distances[m] };
    return list;
  }

  /** Puts candidate c in the place at the top of the heap of `size` at `base`, moving it down past any farther one. */
  private pushDown(distances: Float64Array, held: Int32Array, base: number, size: number, distance: number, c: number): void {
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && this.farther(distances[base + child + 1], held[base + child + 1], distances[base + child], held[base + child])) child++;
      if (!this.farther(distances[base + child], held[base + child], distance, c)) break;
      distances[base + at] = distances[base + child];
      held[base + at] = held[base + child];
      at = child;
    }
    distances[base + at] = distance;
    held[base + at] = c;
  }

  private hold(c: number, block: number, row: number): void {
    this.blockOf[c] = block;
    this.rowOf[c] = row;
    this.decoded[c] = 0;
  }

  private idOf(c: number): string {
    if (!this.decoded[c]) {
      this.ids[c] = this.blocks.get(this.blockOf[c])!(this.rowOf[c]);
      this.decoded[c] = 1;
    }
    return this.ids[c];
  }

  /** Whether candidate a (at distance da) comes after candidate b: farther, or as far with a greater id. */
  private farther(da: number, a: number, db: number, b: number): boolean {
    return da > db || (da === db && this.idOf(a) > this.idOf(b));
  }
}
