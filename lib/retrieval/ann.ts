import { Index, type Table } from '@lancedb/lancedb';
import type { RecordBatch } from 'apache-arrow';
import { normalizeRows } from './normalize';
import { compareNeighbours, type Neighbour } from './running-topk';

export type AnnIndexKind = 'ivf-flat' | 'ivf-pq' | 'hnsw-sq';

/** A LanceDB vector index and how it is queried. */
export interface AnnParams {
  index: AnnIndexKind;
  numPartitions: number;
  /** PQ sub-vectors (ivf-pq only). */
  numSubVectors?: number;
  nprobes: number;
  /** Re-rank this many times k candidates by exact distance (PQ distances are approximate). */
  refineFactor?: number;
  /** HNSW search width (hnsw-sq only). */
  ef?: number;
}

export type AnnOverrides = Partial<AnnParams>;

/**
 * Parameters from the pool's size and dimension. sqrt(N) partitions balance the coarse search
 * (partitions scanned per query) against the fine one (rows per partition); probing 1/16 of them,
 * at least 20, gave recall@50 >= 0.95 on clustered vectors in `npm run bench:retrieval`. PQ uses
 * 8-dimensional sub-vectors, or 4-dimensional ones where 8 does not divide the dimension.
 */
export function annParams(rows: number, dim: number, overrides: AnnOverrides = {}): AnnParams {
  const index = overrides.index ?? 'ivf-flat';
  const numPartitions = overrides.numPartitions ?? (index === 'hnsw-sq' ? Math.max(1, Math.round(rows / 1_000_000)) : Math.max(1, Math.round(Math.sqrt(rows))));
  const subVectorDims = dim % 8 === 0 ? 8 : dim % 4 === 0 ? 4 : 1;
  return {
    index,
    numPartitions,
    numSubVectors: index === 'ivf-pq' ? (overrides.numSubVectors ?? dim / subVectorDims) : undefined,
    nprobes: overrides.nprobes ?? Math.min(numPartitions, Math.max(20, Math.ceil(numPartitions / 16))),
    refineFactor: index === 'ivf-pq' ? (overrides.refineFactor ?? 10) : overrides.refineFactor,
    ef: index === 'hnsw-sq' ? (overrides.ef ?? 150) : undefined,
  };
}

/** The index name records its build parameters, so a changed configuration builds a new index. */
export function indexName(p: AnnParams): string {
  return ['vector', p.index.replace('-', ''), `p${p.numPartitions}`, ...(p.numSubVectors ? [`s${p.numSubVectors}`] : [])].join('_');
}

function indexConfig(p: AnnParams): Index {
  const common = { numPartitions: p.numPartitions, distanceType: 'cosine' as const };
  switch (p.index) {
    case 'ivf-flat':
      return Index.ivfFlat(common);
    case 'ivf-pq':
      return Index.ivfPq({ ...common, numSubVectors: p.numSubVectors });
    case 'hnsw-sq':
      return Index.hnswSq(common);
  }
}

/**
 * Builds the pool's vector index unless an index of the same parameters already covers every row:
 * building is idempotent, and the index is reused while the table is unchanged. Returns whether it built.
 */
export async function ensureAnnIndex(table: Table, params: AnnParams): Promise<{ built: boolean; seconds: number }> {
  const name = indexName(params);
  const existing = await table.listIndices();
  if (existing.some((i) => i.name === name)) {
    const stats = await table.indexStats(name);
    if (stats && stats.numUnindexedRows === 0) return { built: false, seconds: 0 };
  }
  const started = Date.now();
  // One vector index per column: a stale one (other parameters, or rows added since) goes first.
  for (const i of existing) if (i.columns.includes('vector')) await table.dropIndex(i.name);
  await table.createIndex('vector', { config: indexConfig(params), name, replace: true });
  return { built: true, seconds: (Date.now() - started) / 1000 };
}

/** Whether the table has an index of these parameters covering every row. */
export async function annIndexReady(table: Table, params: AnnParams): Promise<boolean> {
  const name = indexName(params);
  if (!(await table.listIndices()).some((i) => i.name === name)) return false;
  return (await table.indexStats(name))?.numUnindexedRows === 0;
}

export interface AnnSearchOptions {
  k: number;
  params: AnnParams;
  /** Keep only rows passing this filter (applied before the search: e.g. the pool's shards). */
  filter?: string;
  /** LanceDB calls in flight at once: LanceDB searches on its own threads. */
  concurrency?: number;
  /** Queries per LanceDB call (each its own top k); ANN_QUERIES_PER_CALL by default. */
  queriesPerCall?: number;
  onProgress?: (done: number) => void | Promise<void>;
}

/**
 * Queries per LanceDB call: one call with many query vectors (`addQueryVector`) pays the call's
 * fixed cost once, with the same neighbours. `npm run bench:retrieval` measures it against one query
 * a call (`lance_ann_batched_vs_single`: 1.3 to 3 on 5k to 50k pools here, under load); 64 and 256
 * a call did the same.
 */
export const ANN_QUERIES_PER_CALL = 64;

/**
 * Index search for each target, its own top k: the path that wins for few targets against a huge
 * pool, and the dedup self-join's index path. Targets go to LanceDB `queriesPerCall` at a time.
 */
export async function annSearch(table: Table, targets: Float32Array, dim: number, opts: AnnSearchOptions): Promise<Neighbour[][]> {
  const unit = normalizeRows(Float32Array.from(targets), dim);
  const count = unit.length / dim;
  const out: Neighbour[][] = new Array(count);
  const { params } = opts;
  const perCall = Math.max(1, opts.queriesPerCall ?? ANN_QUERIES_PER_CALL);
  const vector = (t: number) => unit.subarray(t * dim, (t + 1) * dim);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < count) {
      const first = next;
      const n = Math.min(perCall, count - first);
      next += n;
      let q = table.vectorSearch(vector(first));
      for (let t = first + 1; t < first + n; t++) q = q.addQueryVector(vector(t));
      q = q.distanceType('cosine').select(['id', '_distance']).limit(opts.k);
      if (params.index === 'hnsw-sq') q = q.ef(params.ef ?? 150);
      else q = q.nprobes(params.nprobes);
      if (params.refineFactor) q = q.refineFactor(params.refineFactor);
      if (opts.filter) q = q.where(opts.filter);
      const lists: Neighbour[][] = Array.from({ length: n }, () => []);
      for (const batch of (await q.toArrow()).batches as RecordBatch[]) {
        const ids = batch.getChild('id')!;
        const distances = batch.getChild('_distance')!;
        // One query vector gives no query_index column.
        const query = batch.getChild('query_index');
        for (let r = 0; r < batch.numRows; r++) lists[query ? Number(query.get(r)) : 0].push({ poolId: String(ids.get(r)), distance: Number(distances.get(r)) });
      }
      for (let i = 0; i < n; i++) out[first + i] = lists[i].sort(compareNeighbours);
      done += n;
      await opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  return out;
}
