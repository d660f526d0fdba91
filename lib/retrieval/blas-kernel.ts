// The exact search's BLAS kernel: OpenBLAS's sgemm and the floor filter in one native call per
// batch and block (native/search-blas/search_blas.c, built by infra/search-blas.cjs), pushing into
// the batch's best scores in place. OpenBLAS runs one thread per call: the search has a thread per core.
import { join } from 'node:path';
import { projectRoot } from '../paths';
import type { KernelBatch, KernelBlock, SearchKernel, TileHits } from './search-kernel';

export interface SearchBlasAddon {
  /** `screenedTiles`: tiles scored through the int8 screen's bounds instead of the sgemm (search_blas.c), a figure for tests and benchmarks. */
  search(targets: Float32Array, dim: number, vectors: Float32Array, rows: number, screen: Uint8Array, heaps: Float32Array, sizes: Uint32Array): TileHits & { screenedTiles: number };
  /** What search()'s int8 screen multiplies: the block's rows quantized (screen.c); empty where the screen does not run (no AVX2, over 2,096 dimensions). */
  screen(vectors: Float32Array, rows: number, dim: number): Uint8Array;
  /** normalize.ts's normalizeRowsInto, bit for bit (the same double arithmetic), in C. */
  normalize(to: Float32Array, from: Float32Array, dim: number): Float32Array;
  /**
   * RunningTopK's offers of a batch's hits, on its own arrays (native/search-blas/merge.c), but for
   * those that meet an equal distance: their indices come back, for RunningTopK.offer.
   */
  offer(
    distances: Float64Array,
    held: Int32Array,
    filled: Uint32Array,
    blockOf: Int32Array,
    rowOf: Int32Array,
    decoded: Uint8Array,
    first: number,
    block: number,
    targets: Int32Array,
    rows: Int32Array,
    scores: Float32Array,
  ): Int32Array;
  /** OpenBLAS's build: version, kernel architecture. */
  config(): string;
}

type SearchBlas = { addon: SearchBlasAddon; missing?: undefined } | { addon?: undefined; missing: string };
let loaded: SearchBlas | undefined;

/** The addon setup built for this checkout, loaded once per thread; or why there is none. */
export function loadSearchBlas(): SearchBlas {
  loaded ??= (() => {
    try {
      const { locateSearchBlas } = require(join(projectRoot, 'infra', 'search-blas.cjs')) as { locateSearchBlas(): { file?: string; missing?: string } };
      const found = locateSearchBlas();
      return found.file ? { addon: require(found.file) as SearchBlasAddon } : { missing: found.missing! };
    } catch (err) {
      return { missing: (err as Error).message };
    }
  })();
  return loaded;
}

export class BlasKernel implements SearchKernel {
  /** Each block quantized for the screen, once by this thread for all of its batches, and let go with the block. */
  private readonly screens = new WeakMap<KernelBlock, Uint8Array>();

  private constructor(private readonly addon: SearchBlasAddon) {}

  static async open(): Promise<BlasKernel> {
    const blas = loadSearchBlas();
    if (!blas.addon) throw new Error(`the BLAS search kernel cannot load: ${blas.missing}`);
    return new BlasKernel(blas.addon);
  }

  async search(batch: KernelBatch, dim: number, block: KernelBlock): Promise<TileHits[]> {
    let screen = this.screens.get(block);
    if (!screen) this.screens.set(block, (screen = this.addon.screen(block.vectors, block.rows, dim)));
    return [this.addon.search(batch.targets, dim, block.vectors, block.rows, screen, batch.best.heaps, batch.best.sizes)];
  }

  async release(): Promise<void> {}
}
