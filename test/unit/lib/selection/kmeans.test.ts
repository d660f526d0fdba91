import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusteredVectors } from '../../../../lib/retrieval/synthetic';
import { nearestCentroid, reseedEmpty, sphericalKMeans } from '../../../../lib/selection/kmeans';

const DIM = 16;

/** Whether the found clusters are the true ones up to renaming: every true cluster maps to one found cluster and back. */
function sameClustering(truth: Uint32Array, found: Int32Array): boolean {
  const to = new Map<number, number>();
  const from = new Map<number, number>();
  for (let i = 0; i < truth.length; i++) {
    if ((to.get(truth[i]) ?? found[i]) !== found[i] || (from.get(found[i]) ?? truth[i]) !== truth[i]) return false;
    to.set(truth[i], found[i]);
    from.set(found[i], truth[i]);
  }
  return true;
}

const labelsOf = (centroids: Float32Array, clusters: number, vectors: Float32Array) =>
  Int32Array.from({ length: vectors.length / DIM }, (_, r) => nearestCentroid(centroids, clusters, DIM, vectors, r));

describe('spherical k-means', () => {
  // Well separated: per-dimension noise 0.15 / sqrt(dim) around 6 random unit centres.
  const { vectors, clusters: truth } = clusteredVectors({ count: 1200, dim: DIM, centers: 6, spread: 0.15, seed: 7 });

  it('recovers well-separated clusters, with unit centroids', async () => {
    const km = await sphericalKMeans(vectors, DIM, { clusters: 6, iterations: 30, seed: 1 });
    assert.ok(sameClustering(truth, labelsOf(km.centroids, 6, vectors)));
    for (let c = 0; c < 6; c++) assert.ok(Math.abs(Math.hypot(...km.centroids.subarray(c * DIM, (c + 1) * DIM)) - 1) < 1e-5);
    assert.equal(km.sizes.reduce((n, s) => n + s, 0), 1200);
    assert.ok(km.iterations < 30, 'stops once no assignment changes');
  });

  it('is deterministic for a seed, and leaves its input as it was', async () => {
    const scaled = vectors.map((v) => v * 3);
    const copy = Float32Array.from(scaled);
    const a = await sphericalKMeans(scaled, DIM, { clusters: 8, iterations: 10, seed: 3 });
    const b = await sphericalKMeans(scaled, DIM, { clusters: 8, iterations: 10, seed: 3 });
    assert.deepEqual(a, b);
    assert.deepEqual(scaled, copy);
    const other = await sphericalKMeans(scaled, DIM, { clusters: 8, iterations: 10, seed: 4 });
    assert.notDeepEqual(a.centroids, other.centroids);
  });

  it('reseeds empty clusters: more clusters than true groups still uses every cluster', async () => {
    const km = await sphericalKMeans(vectors, DIM, { clusters: 12, iterations: 20, seed: 2 });
    assert.ok(km.sizes.every((s) => s > 0), `sizes ${[...km.sizes]}`);
  });

  it('handles duplicate points: as many distinct points as clusters, each its own cluster', async () => {
    // 3 distinct points, each 50 times: k-means++ must still find all three.
    const distinct = clusteredVectors({ count: 3, dim: DIM, centers: 3, spread: 0.01, seed: 9 }).vectors;
    const dup = new Float32Array(150 * DIM);
    for (let i = 0; i < 150; i++) dup.set(distinct.subarray((i % 3) * DIM, (i % 3 + 1) * DIM), i * DIM);
    const km = await sphericalKMeans(dup, DIM, { clusters: 3, iterations: 10, seed: 5 });
    assert.deepEqual([...km.sizes].sort(), [50, 50, 50]);
    // Fewer distinct points than clusters: the extra clusters stay empty, nothing fails.
    const more = await sphericalKMeans(dup, DIM, { clusters: 5, iterations: 10, seed: 5 });
    assert.equal(more.sizes.filter((s) => s > 0).length, 3);
    assert.equal(more.sizes.reduce((n, s) => n + s, 0), 150);
  });

  it('reseeds an empty cluster with the row farthest from its centroid, never a cluster’s last row', () => {
    // Rows 0-2 in cluster 0 (row 2 the farthest, cosine 0.2), row 3 alone in cluster 1 (cosine 0.1); clusters 2 and 3 empty.
    const unit = Float32Array.from({ length: 4 * DIM }, (_, i) => (i % DIM === Math.floor(i / DIM) ? 1 : 0));
    const centroids = new Float32Array(4 * DIM);
    const labels = Int32Array.from([0, 0, 0, 1]);
    const scores = Float32Array.from([0.9, 0.8, 0.2, 0.1]);
    const sizes = Uint32Array.from([3, 1, 0, 0]);
    reseedEmpty(unit, DIM, centroids, labels, scores, sizes);
    assert.deepEqual([...labels], [0, 3, 2, 1]);
    assert.deepEqual([...sizes], [1, 1, 1, 1]);
    assert.deepEqual(centroids.subarray(2 * DIM, 3 * DIM), unit.subarray(2 * DIM, 3 * DIM));
    assert.deepEqual(centroids.subarray(3 * DIM, 4 * DIM), unit.subarray(DIM, 2 * DIM));
  });

  it('refuses fewer rows than clusters', async () => {
    await assert.rejects(sphericalKMeans(vectors.subarray(0, 3 * DIM), DIM, { clusters: 4, iterations: 1, seed: 0 }), /3 rows cannot make 4 clusters/);
  });
});
