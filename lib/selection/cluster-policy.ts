// The cluster policy (DINOv2's retrieval for small target sets): the pool clustered by spherical
// k-means (kmeans.ts) on a seeded sample of its rows, every train target assigned to its nearest
// centroid, each cluster's quota the budget in proportion to the train targets in it, and each
// quota filled by a seeded random draw of the cluster's pool images: one streamed pass assigns
// every pool row to its centroid and keeps, per cluster with a quota, the rows of smallest seeded
// hash of the pool id. Memory: the sample (sampleRows x dim), the centroids (clusters x dim), the
// train targets' vectors and the budget's draws; never the pool.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Table } from '@lancedb/lancedb';
import { RetrievalInputError } from '../retrieval/errors';
import type { PoolBlock } from '../retrieval/exact-search';
import { scanPool } from '../retrieval/pool-scan';
import { shardFilter, vectorsById } from '../retrieval/vector-store';
import { dot, nearestCentroid, ROWS_PER_TURN, sphericalKMeans } from './kmeans';
import { type Exclusions, explainSelected } from './policy';
import { rank as seededHash } from './random-sample';
import type { Candidates, ClusterParams, SelectedSample, Selection, SelectionPolicy } from './types';

/** The pool as the cluster policy reads it, and the train targets' vectors. */
export interface ClusterInput {
  /** One streamed pass over the pool's vectors (each call a new pass). */
  scan: () => AsyncIterable<PoolBlock>;
  /** The train targets' vectors in `Candidates.targets` order, [targets x dim]. */
  targets: Float32Array;
  dim: number;
}

/**
 * The `capacity` entries of lowest (hash, id) offered, as a max-heap over slots: an offer costs
 * O(log capacity), memory O(capacity). A slot, once filled, is reused only by a lower entry.
 */
class LowestHashes {
  readonly hashes: BigUint64Array;
  readonly ids: string[] = [];
  /** Slots in heap order: the highest entry first. */
  private readonly heap: Int32Array;
  private size = 0;

  constructor(readonly capacity: number) {
    this.hashes = new BigUint64Array(capacity);
    this.heap = new Int32Array(capacity);
  }

  /** Whether slot a's entry is above slot b's. */
  private above(a: number, b: number): boolean {
    return this.hashes[a] > this.hashes[b] || (this.hashes[a] === this.hashes[b] && this.ids[a] > this.ids[b]);
  }

  /** Whether an entry of this hash and id would be kept, without building it. */
  wants(hash: bigint, id: string): boolean {
    if (this.size < this.capacity) return true;
    const top = this.heap[0];
    return hash < this.hashes[top] || (hash === this.hashes[top] && id < this.ids[top]);
  }

  /** Keeps the entry if it is among the lowest: the slot it took, or -1. */
  offer(hash: bigint, id: string): number {
    if (!this.wants(hash, id)) return -1;
    const slot = this.size < this.capacity ? this.size : this.heap[0];
    this.hashes[slot] = hash;
    this.ids[slot] = id;
    if (this.size < this.capacity) {
      let i = this.size++;
      this.heap[i] = slot;
      for (let up = (i - 1) >> 1; i > 0 && this.above(this.heap[i], this.heap[up]); i = up, up = (i - 1) >> 1) [this.heap[i], this.heap[up]] = [this.heap[up], this.heap[i]];
      return slot;
    }
    for (let i = 0; ; ) {
      const [l, r] = [2 * i + 1, 2 * i + 2];
      const high = r < this.size && this.above(this.heap[r], this.heap[l]) ? r : l;
      if (high >= this.size || !this.above(this.heap[high], this.heap[i])) break;
      [this.heap[i], this.heap[high]] = [this.heap[high], this.heap[i]];
      i = high;
    }
    return slot;
  }

  /** Filled slots, lowest entry first. */
  slots(): number[] {
    return Array.from({ length: this.size }, (_, i) => i).sort((a, b) => (this.above(a, b) ? 1 : this.above(b, a) ? -1 : 0));
  }
}

/**
 * Each cluster's share of the budget in proportion to the train targets in it: floors, then one
 * each to the largest remainders (ties to the lower cluster). Sums to the budget.
 */
export function clusterQuotas(targetsPerCluster: Uint32Array, budget: number): Uint32Array {
  const total = targetsPerCluster.reduce((n, c) => n + c, 0);
  const exact = Array.from(targetsPerCluster, (n) => (budget * n) / total);
  const quotas = Uint32Array.from(exact, Math.floor);
  const left = budget - quotas.reduce((n, q) => n + q, 0);
  const byRemainder = [...quotas.keys()].sort((a, b) => exact[b] - quotas[b] - (exact[a] - quotas[a]) || a - b);
  for (let i = 0; i < left; i++) quotas[byRemainder[i]]++;
  return quotas;
}

/**
 * The seeded sample of pool rows the k-means is fitted on: the `sampleRows` of smallest seeded hash,
 * their vectors in hash order, so that the sample (and the k-means) does not depend on the scan's order.
 */
async function poolSample(input: ClusterInput, params: ClusterParams): Promise<Float32Array> {
  const { dim } = input;
  const kept = new LowestHashes(params.sampleRows);
  const vectors = new Float32Array(params.sampleRows * dim);
  for await (const block of input.scan()) {
    for (let r = 0; r < block.rows; r++) {
      const id = block.idOf(r);
      const slot = kept.offer(seededHash(params.seed, id), id);
      if (slot >= 0) vectors.set(block.vectors.subarray(r * dim, (r + 1) * dim), slot * dim);
    }
  }
  const slots = kept.slots();
  const sample = new Float32Array(slots.length * dim);
  slots.forEach((slot, i) => sample.set(vectors.subarray(slot * dim, (slot + 1) * dim), i * dim));
  return sample;
}

const rowNorm = (v: Float32Array, row: number, dim: number) => Math.sqrt(dot(v, row, v, row, dim)) || 1;

/**
 * Selects `budget` pool images by clusters (see the file's head). A drawn image no target
 * retrieved has hit count 0 and best rank 0, and as closest target the nearest train target of its
 * cluster (cosine); the explain pass over the hits then sets these fields as for every policy where
 * targets retrieved it. Samples come in draw order (smallest hash first). Target images and the
 * leakage guard's exclusions are never drawn.
 */
export async function selectByClusters(candidates: Candidates, policy: SelectionPolicy, exclusions: Exclusions, input: ClusterInput): Promise<Selection> {
  const params = policy.cluster;
  if (!params) throw new RetrievalInputError('retrieval.cluster is missing: the cluster policy needs its parameters');
  const { dim } = input;
  const { ids, labels } = candidates.targets;
  if (input.targets.length !== ids.length * dim) throw new RetrievalInputError(`the cluster policy needs a vector of every train target: ${input.targets.length / dim} of ${ids.length}`);

  const sample = await poolSample(input, params);
  if (sample.length < params.clusters * dim) throw new RetrievalInputError(`retrieval.cluster.clusters (${params.clusters}) is more than the pool's ${sample.length / dim} rows`);
  const { centroids } = await sphericalKMeans(sample, dim, params);

  const clusterOf = Int32Array.from(ids, (_, t) => nearestCentroid(centroids, params.clusters, dim, input.targets, t));
  const targetsPerCluster = new Uint32Array(params.clusters);
  for (const c of clusterOf) targetsPerCluster[c]++;
  const quotas = clusterQuotas(targetsPerCluster, policy.budget);
  const targetsOf = Array.from(quotas, (_, c) => Int32Array.from(clusterOf.keys()).filter((t) => clusterOf[t] === c));
  const draws = Array.from(quotas, (q) => new LowestHashes(q));
  // The closest train target of the cluster, for each draw's slot.
  const closest = Array.from(quotas, (q) => ({ target: new Int32Array(q), distance: new Float64Array(q) }));
  const targetNorms = Float64Array.from(ids, (_, t) => rowNorm(input.targets, t, dim));

  for await (const block of input.scan()) {
    for (let r = 0; r < block.rows; r++) {
      if (r % ROWS_PER_TURN === ROWS_PER_TURN - 1) await nextTurn();
      const c = nearestCentroid(centroids, params.clusters, dim, block.vectors, r);
      if (quotas[c] === 0) continue;
      const id = block.idOf(r);
      if (exclusions.targetIds.has(id) || exclusions.leaked.has(id)) continue;
      const slot = draws[c].offer(seededHash(params.seed, id), id);
      if (slot < 0) continue;
      const norm = rowNorm(block.vectors, r, dim);
      let best = -Infinity;
      for (const t of targetsOf[c]) {
        const cos = dot(block.vectors, r, input.targets, t, dim) / (norm * targetNorms[t]);
        if (cos > best || (cos === best && ids[t] < ids[closest[c].target[slot]])) {
          best = cos;
          closest[c].target[slot] = t;
        }
      }
      closest[c].distance[slot] = 1 - best;
    }
  }

  const drawn = draws.flatMap((d, c) => d.slots().map((slot) => ({ c, slot, hash: d.hashes[slot], id: d.ids[slot] })));
  drawn.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const taken = new Map<string, SelectedSample>();
  for (const { c, slot, id } of drawn) {
    const t = closest[c].target[slot];
    taken.set(id, { poolId: id, hitCount: 0, bestRank: 0, closestTarget: ids[t], closestLabel: labels[t], distance: closest[c].distance[slot], order: taken.size });
  }
  const counts = await explainSelected(candidates, policy, exclusions, taken);
  return { samples: [...taken.values()], leakageExcluded: exclusions.leaked.size, ...counts, shortfall: Math.max(0, policy.budget - taken.size) };
}

/** The cluster policy's input read from the store: the pool's rows of the vectors table (only they, where it holds target rows too) and the train targets' vectors. */
export async function storeClusterInput(
  table: Table,
  plan: { encoderId: string; dim: number; tableHasOtherRows: boolean },
  poolShardIds: string[],
  trainIds: string[],
  blockRows: number,
): Promise<ClusterInput> {
  const { vectors, missing } = await vectorsById(table, plan.encoderId, trainIds, plan.dim);
  if (missing.length > 0) throw new RetrievalInputError(`${missing.length} train targets have no vector for encoder ${plan.encoderId} (first: ${missing[0]}): embed the target sets`);
  const filter = plan.tableHasOtherRows ? shardFilter(poolShardIds) : undefined;
  return { scan: () => scanPool(table, { filter, blockRows, dim: plan.dim }), targets: vectors, dim: plan.dim };
}
