// Spherical k-means: cosine k-means on L2-normalized vectors, centroids renormalized after each
// update. Seeded k-means++ initialisation and Lloyd iterations, deterministic for a seed (ties go
// to the lower centroid index and the lower row); greedy k-means++ seeding. Used by the cluster selection policy
// (cluster-policy.ts) on a seeded sample of the pool; a tight Float32Array loop, not the search
// kernel: clusters x dim floats per row, and a row's assignment needs only the argmax.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { normalizeRows } from '../retrieval/normalize';
import { seededRandom } from '../retrieval/synthetic';

export interface KMeansOptions {
  clusters: number;
  /** Lloyd iterations at most: fewer once an iteration changes no assignment. */
  iterations: number;
  seed: number;
}

export interface KMeans {
  /** [clusters x dim], unit length (a cluster that never held a row keeps its initial centroid). */
  centroids: Float32Array;
  /** Rows of the fitted vectors in each cluster at the last assignment. */
  sizes: Uint32Array;
  /** Lloyd iterations run. */
  iterations: number;
}

/** A cosine at or above this puts a row on its centroid (float32 rounding of a unit vector with itself). */
const ON_CENTROID = 1 - 1e-6;

/** Rows scored between two turns of the event loop, so that the worker keeps heartbeating (workers/heartbeat.ts). */
export const ROWS_PER_TURN = 2048;

/** Dot product of row `a` of `x` and row `b` of `y`. */
export function dot(x: Float32Array, a: number, y: Float32Array, b: number, dim: number): number {
  const i = a * dim;
  const k = b * dim;
  // Four running sums: about twice as fast as one in V8; the order is fixed, so the result is too.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < dim; j += 4) {
    s0 += x[i + j] * y[k + j];
    s1 += x[i + j + 1] * y[k + j + 1];
    s2 += x[i + j + 2] * y[k + j + 2];
    s3 += x[i + j + 3] * y[k + j + 3];
  }
  for (; j < dim; j++) s0 += x[i + j] * y[k + j];
  return s0 + s1 + (s2 + s3);
}

/**
 * The centroid nearest row `row` of `vectors` by cosine (the largest dot product: the row's norm does
 * not change which), ties to the lower index; its dot product goes to `score[0]` when given.
 */
export function nearestCentroid(centroids: Float32Array, clusters: number, dim: number, vectors: Float32Array, row: number, score?: Float32Array): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < clusters; c++) {
    const s = dot(vectors, row, centroids, c, dim);
    if (s > bestScore) {
      bestScore = s;
      best = c;
    }
  }
  if (score) score[0] = bestScore;
  return best;
}

/** Assigns every row to its nearest centroid (labels, and the cosine to it in scores); returns how many labels changed. */
async function assign(vectors: Float32Array, rows: number, dim: number, centroids: Float32Array, clusters: number, labels: Int32Array, scores: Float32Array): Promise<number> {
  let changed = 0;
  const score = new Float32Array(1);
  for (let r = 0; r < rows; r++) {
    const c = nearestCentroid(centroids, clusters, dim, vectors, r, score);
    if (c !== labels[r]) changed++;
    labels[r] = c;
    scores[r] = score[0];
    if (r % ROWS_PER_TURN === ROWS_PER_TURN - 1) await nextTurn();
  }
  return changed;
}

/** A row drawn with probability proportional to its weight (the last row with weight where rounding runs past the end). */
function drawWeighted(weights: Float64Array, total: number, u: number): number {
  let at = u * total;
  let last = 0;
  for (let r = 0; r < weights.length; r++) {
    if (weights[r] <= 0) continue;
    last = r;
    at -= weights[r];
    if (at < 0) return r;
  }
  return last;
}

/**
 * Greedy k-means++ (as scikit-learn's): the first centroid a uniformly drawn row; each next one the
 * best of 2 + ln(clusters) rows drawn with probability proportional to their squared distance to
 * the nearest centroid so far (2 - 2 cos on the sphere), the one that lowers the sum of those
 * distances most. Where every row sits on a centroid already (fewer distinct rows than clusters), a
 * uniform draw.
 */
async function kMeansPlusPlus(unit: Float32Array, rows: number, dim: number, clusters: number, random: () => number): Promise<Float32Array> {
  const centroids = new Float32Array(clusters * dim);
  const trials = 2 + Math.floor(Math.log(clusters));
  const d2 = new Float64Array(rows).fill(Infinity);
  const trial = new Float64Array(rows);
  const best = new Float64Array(rows);
  /** The squared distances to the nearest centroid with row `pick` added, into `out`; their sum. */
  const withCandidate = async (pick: number, out: Float64Array) => {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      out[r] = Math.min(d2[r], Math.max(0, 2 - 2 * dot(unit, r, unit, pick, dim)));
      total += out[r];
      if (r % ROWS_PER_TURN === ROWS_PER_TURN - 1) await nextTurn();
    }
    return total;
  };
  let pick = Math.floor(random() * rows);
  let total = await withCandidate(pick, d2);
  centroids.set(unit.subarray(pick * dim, (pick + 1) * dim), 0);
  for (let c = 1; c < clusters; c++) {
    if (total <= 0) {
      pick = Math.floor(random() * rows);
    } else {
      let bestTotal = Infinity;
      for (let t = 0; t < trials; t++) {
        const candidate = drawWeighted(d2, total, random());
        const candidateTotal = await withCandidate(candidate, trial);
        if (candidateTotal < bestTotal) {
          bestTotal = candidateTotal;
          pick = candidate;
          best.set(trial);
        }
      }
      d2.set(best);
      total = bestTotal;
    }
    centroids.set(unit.subarray(pick * dim, (pick + 1) * dim), c * dim);
  }
  return centroids;
}

/**
 * Clusters `rows` vectors of `dim` floats (copied and normalized: the input is left as it is).
 * After each update, an empty cluster is reseeded with the row farthest from its own centroid
 * (lowest cosine, then lowest row) among clusters that keep a row; a cluster stays empty only where
 * every other row already sits on its centroid (duplicates).
 */
export async function sphericalKMeans(vectors: Float32Array, dim: number, opts: KMeansOptions): Promise<KMeans> {
  const rows = vectors.length / dim;
  const { clusters } = opts;
  if (!Number.isInteger(rows) || rows < clusters || clusters < 1) throw new RangeError(`k-means: ${rows} rows cannot make ${clusters} clusters`);
  const unit = normalizeRows(Float32Array.from(vectors), dim);
  const random = seededRandom(opts.seed);
  const centroids = await kMeansPlusPlus(unit, rows, dim, clusters, random);
  const labels = new Int32Array(rows).fill(-1);
  const scores = new Float32Array(rows);
  const sizes = new Uint32Array(clusters);
  const sums = new Float64Array(clusters * dim);
  let iterations = 0;
  while (iterations < opts.iterations) {
    const changed = await assign(unit, rows, dim, centroids, clusters, labels, scores);
    iterations++;
    if (changed === 0) break;
    sums.fill(0);
    sizes.fill(0);
    for (let r = 0; r < rows; r++) {
      const c = labels[r];
      sizes[c]++;
      for (let j = 0; j < dim; j++) sums[c * dim + j] += unit[r * dim + j];
    }
    for (let c = 0; c < clusters; c++) {
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += sums[c * dim + j] ** 2;
      if (sizes[c] === 0 || norm === 0) continue;
      const scale = 1 / Math.sqrt(norm);
      for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j] * scale;
    }
    reseedEmpty(unit, dim, centroids, labels, scores, sizes);
  }
  return { centroids, sizes, iterations };
}

/**
 * Moves the rows farthest from their centroids (and not on them) into the empty clusters, one each
 * (never a cluster's last row): labels, scores, sizes and centroids updated in place.
 */
export function reseedEmpty(unit: Float32Array, dim: number, centroids: Float32Array, labels: Int32Array, scores: Float32Array, sizes: Uint32Array): void {
  const empty = [...sizes.keys()].filter((c) => sizes[c] === 0);
  if (empty.length === 0) return;
  const farthest = Int32Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b] || a - b);
  let next = 0;
  for (const c of empty) {
    while (next < farthest.length && (sizes[labels[farthest[next]]] < 2 || scores[farthest[next]] >= ON_CENTROID)) next++;
    if (next === farthest.length) return;
    const row = farthest[next++];
    sizes[labels[row]]--;
    sizes[c] = 1;
    labels[row] = c;
    scores[row] = 1;
    centroids.set(unit.subarray(row * dim, (row + 1) * dim), c * dim);
  }
}
