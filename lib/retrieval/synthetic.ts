// Seeded, clustered unit vectors: a stand-in for embeddings in tests and benchmarks where the
// scale matters more than the images (many near neighbours per query, like real features).
import { normalizeRows } from './normalize';

/** mulberry32: a tiny seeded PRNG, so a test's vectors are the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export interface ClusteredVectors {
  vectors: Float32Array;
  /** The cluster each row was drawn around. */
  clusters: Uint32Array;
}

/** `count` unit vectors around `centers` random centres, each `spread` (per-dimension noise) away. */
export function clusteredVectors(opts: { count: number; dim: number; centers: number; spread?: number; seed?: number }): ClusteredVectors {
  const { count, dim, centers } = opts;
  const spread = opts.spread ?? 0.5;
  const random = seededRandom(opts.seed ?? 1);
  const normal = gaussian(random);
  // Centres come from their own stream so pools and targets drawn with different seeds share them.
  const centerNormal = gaussian(seededRandom(0x5e97));
  const centres = normalizeRows(Float32Array.from({ length: centers * dim }, centerNormal), dim);
  const vectors = new Float32Array(count * dim);
  const clusters = new Uint32Array(count);
  const noise = spread / Math.sqrt(dim);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * centers);
    clusters[i] = c;
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = centres[c * dim + j] + noise * normal();
  }
  return { vectors: normalizeRows(vectors, dim), clusters };
}
