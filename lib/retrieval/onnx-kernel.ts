// The exact search's onnxruntime kernel: sessions of the two search graphs (search-graph.ts),
// applied to one pool block and one target batch tile by tile, so that a tile's score matrix
// (which onnxruntime keeps in its arena for the session's life) stays small.
import * as ort from 'onnxruntime-node';
import type { BestScores } from './best-scores';
import { candidatesGraph, searchGraph } from './search-graph';
import { GROUP, type KernelBatch, type KernelBlock, type SearchKernel, type TileHits } from './search-kernel';

/** Scores per tile: 32 MB of float32, whatever the target batch. */
const TILE_SCORES = 8 * 2 ** 20;

export class OnnxKernel implements SearchKernel {
  private constructor(
    private readonly topKSession: ort.InferenceSession,
    private readonly candidatesSession: ort.InferenceSession,
  ) {}

  /** One onnxruntime thread per kernel: a search runs one kernel per core, each on its own target batches. */
  static async open(): Promise<OnnxKernel> {
    const options = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' } as const;
    const [topK, candidates] = await Promise.all([ort.InferenceSession.create(searchGraph(), options), ort.InferenceSession.create(candidatesGraph(), options)]);
    return new OnnxKernel(topK, candidates);
  }

  /**
   * One batch against one block, tile by tile: every score of the tile that could enter a list,
   * the tile's TopK while some target has fewer than k, its floor filter after. What runs depends
   * only on the order of the batch's blocks, never on timing. Scores under the floor the block
   * ends with can enter no list either, so the searching thread is not offered them.
   */
  async search(batch: KernelBatch, dim: number, block: KernelBlock): Promise<TileHits[]> {
    const { best } = batch;
    const n = best.targets;
    const targets = new ort.Tensor('float32', batch.targets, [n, dim]);
    const found: TileHits[] = [];
    const tileRows = Math.max(Math.ceil(best.k / GROUP), Math.floor(TILE_SCORES / n / GROUP)) * GROUP;
    for (let first = 0; first < block.rows; first += tileRows) {
      const rows = Math.min(tileRows, block.rows - first);
      if (best.full()) found.push(await this.reaching(targets, dim, block, first, rows, best, true));
      else {
        const top = await this.topK(targets, dim, block, first, rows, best);
        // A TopK cuts a tie at its k-th by row; the filter then gives every score of the tie (counted once).
        found.push(top.tied ? await this.reaching(targets, dim, block, first, rows, best, false) : top.hits);
      }
    }
    return best.full() ? found.map((hits) => atOrAbove(hits, best.floors())) : found;
  }

  /**
   * Each target's best k of the tile (all of it when it has no more rows), counted in its best
   * scores; `tied` when some target's k-th and (k+1)-th are equal, so that the cut was by row.
   */
  private async topK(targets: ort.Tensor, dim: number, block: KernelBlock, first: number, rows: number, best: BestScores): Promise<{ hits: TileHits; tied: boolean }> {
    const keep = Math.min(best.k, rows);
    const width = Math.min(best.k + 1, rows);
    const out = await this.topKSession.run({
      targets,
      pool: new ort.Tensor('float32', block.vectors.subarray(first * dim, (first + rows) * dim), [rows, dim]),
      k: new ort.Tensor('int64', BigInt64Array.of(BigInt(width)), [1]),
    });
    const scores = out.scores.data as Float32Array;
    const indices = out.indices.data as BigInt64Array;
    const n = best.targets;
    const hits: TileHits = { targets: new Int32Array(n * keep), rows: new Int32Array(n * keep), scores: new Float32Array(n * keep) };
    let tied = false;
    for (let t = 0; t < n; t++) {
      if (width > keep) tied ||= scores[t * width + keep - 1] === scores[t * width + keep];
      for (let j = 0; j < keep; j++) {
        const i = t * keep + j;
        hits.targets[i] = t;
        hits.rows[i] = first + Number(indices[t * width + j]);
        hits.scores[i] = scores[t * width + j];
        best.push(t, hits.scores[i]);
      }
    }
    return { hits, tied };
  }

  /** The tile's scores at or above their target's floor (the block's padding rows aside), counted in its best scores if `count`. */
  private async reaching(targets: ort.Tensor, dim: number, block: KernelBlock, first: number, rows: number, best: BestScores, count: boolean): Promise<TileHits> {
    const groupRows = Math.ceil(rows / GROUP) * GROUP;
    const out = await this.candidatesSession.run({
      targets,
      pool: new ort.Tensor('float32', block.vectors.subarray(first * dim, (first + groupRows) * dim), [groupRows, dim]),
      floor: new ort.Tensor('float32', best.floors(), [best.targets, 1]),
      group_shape: new ort.Tensor('int64', BigInt64Array.of(0n, -1n, BigInt(GROUP)), [3]),
    });
    const groups = out.groups.data as Int32Array;
    const places = out.hits.data as Int32Array;
    const scores = out.hit_scores.data as Float32Array;
    const m = scores.length;
    const hits: TileHits = { targets: new Int32Array(m), rows: new Int32Array(m), scores: new Float32Array(m) };
    let kept = 0;
    for (let h = 0; h < m; h++) {
      // hits [2, m]: place in the group, then the group's row in `groups` (target, group).
      const group = places[m + h];
      const row = first + groups[2 * group + 1] * GROUP + places[h];
      if (row >= block.rows) continue;
      hits.targets[kept] = groups[2 * group];
      hits.rows[kept] = row;
      hits.scores[kept] = scores[h];
      if (count) best.push(hits.targets[kept], scores[h]);
      kept++;
    }
    return { targets: hits.targets.subarray(0, kept), rows: hits.rows.subarray(0, kept), scores: hits.scores.subarray(0, kept) };
  }

  async release(): Promise<void> {
    await Promise.all([this.topKSession.release(), this.candidatesSession.release()]);
  }
}

/** The hits whose score reaches its target's floor. */
function atOrAbove(hits: TileHits, floor: Float32Array): TileHits {
  const keep = (_: unknown, i: number) => hits.scores[i] >= floor[hits.targets[i]];
  return { targets: hits.targets.filter(keep), rows: hits.rows.filter(keep), scores: hits.scores.filter(keep) };
}
