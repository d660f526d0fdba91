// An independent brute-force oracle: every target against every pool vector in plain JavaScript,
// float64 throughout, sorted by distance then pool id.
import type { Neighbour } from '../../lib/retrieval/running-topk';

function unit(v: Float32Array): Float64Array {
  const out = Float64Array.from(v);
  const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0));
  return out.map((x) => x / norm);
}

export function bruteForceTopK(targets: Float32Array, pool: Float32Array, poolIds: string[], dim: number, k: number): Neighbour[][] {
  const poolUnit = poolIds.map((_, i) => unit(pool.subarray(i * dim, (i + 1) * dim)));
  const result: Neighbour[][] = [];
  for (let t = 0; t < targets.length / dim; t++) {
    const q = unit(targets.subarray(t * dim, (t + 1) * dim));
    const all = poolUnit.map((p, i) => {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += q[j] * p[j];
      return { poolId: poolIds[i], distance: 1 - dot };
    });
    all.sort((a, b) => a.distance - b.distance || (a.poolId < b.poolId ? -1 : 1));
    result.push(all.slice(0, k));
  }
  return result;
}
