// Pool deduplication's cost per pool row for bench:scale (bench/scale.ts): synthetic clustered
// vectors with planted near-copies written straight into a vectors table, the dedup activities'
// lib calls run in this process (the self-join of every query chunk against every partition, the
// linking of the edges). The exact self-join's work grows with the square of the pool: at 1M rows
// it is the index path, whose joins are per-query searches; where `chunks` is less than the plan's,
// only that many query chunks are joined and their time scaled to all (stated in the figures).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { dropEdges, linkDuplicates } from '../lib/dedup/groups';
import type { DedupPlan } from '../lib/dedup/plan';
import { joinChunk } from '../lib/dedup/self-join';
import { dedupTables } from '../lib/dedup/tables';
import { writeShardList } from '../lib/embed/shard-plan';
import { annParams, ensureAnnIndex } from '../lib/retrieval/ann';
import { vectorTable } from '../lib/retrieval/arrow-vectors';
import { clusteredVectors } from '../lib/retrieval/synthetic';
import { vectorsTableName } from '../lib/retrieval/vector-store';
import { dedupFiles } from '../lib/run-layout';
import { contentFingerprint, type ShardRef } from '../lib/sources/shard-ref';
import { DIM } from './scale-data';

/** Pool rows per shard: a query chunk is whole shards. */
const SHARD_ROWS = 4096;
/** One pool row in COPY_EVERY is a near-copy (5% noise) of the row before it. */
const COPY_EVERY = 100;
const ENCODER = 'bench-dedup';

export interface DedupCase {
  rows: number;
  method: 'exact' | 'ann';
  chunkRows: number;
  /** Query chunks joined (the rest extrapolated); all by default. */
  chunks?: number;
}

export interface DedupMeasurement {
  rows: number;
  method: 'exact' | 'ann';
  chunksJoined: number;
  chunks: number;
  indexSeconds: number;
  joinSeconds: number;
  linkSeconds: number;
  /** Index build, every join (measured or scaled from those measured) and the linking, per pool row. */
  secondsPerRow: number;
  removed: number;
}

/** Writes `rows` synthetic pool vectors in shards of SHARD_ROWS, every COPY_EVERY-th a near-copy of its predecessor. */
async function writePool(store: string, rows: number): Promise<ShardRef[]> {
  const db = await connect(store);
  const shards: ShardRef[] = [];
  for (let first = 0; first < rows; first += SHARD_ROWS) {
    const n = Math.min(SHARD_ROWS, rows - first);
    const { vectors } = clusteredVectors({ count: n, dim: DIM, centers: 1000, spread: 1, seed: 1 + first / SHARD_ROWS });
    for (let r = COPY_EVERY - 1; r < n; r += COPY_EVERY) for (let j = 0; j < DIM; j++) vectors[r * DIM + j] = vectors[(r - 1) * DIM + j] * (1 + 0.05 * Math.sin(r + j));
    const id = `pool/shard-${String(first / SHARD_ROWS).padStart(5, '0')}`;
    shards.push({ id, source: 'pool', path: `/synthetic/${id}`, version: '1' });
    const data = vectorTable({ ids: Array.from({ length: n }, (_, i) => `pool/${String(first + i).padStart(8, '0')}`), encoderId: ENCODER, vectors, dim: DIM, columns: { shard_id: Array(n).fill(id) } });
    if (first === 0) await db.createTable(vectorsTableName(ENCODER), data, { mode: 'overwrite' });
    else await (await db.openTable(vectorsTableName(ENCODER))).add(data);
  }
  return shards;
}

export async function measureDedup(work: string, c: DedupCase, log: (message: string) => void): Promise<DedupMeasurement> {
  const dir = join(work, `dedup-${c.rows}-${c.method}`);
  const store = join(dir, 'lancedb');
  try {
    log(`dedup ${c.rows} rows (${c.method}): writing vectors`);
    const shards = await writePool(store, c.rows);
    const settings = { threshold: 0.95, method: c.method, neighbours: 16 };
    const workDir = join(dir, 'runs', 'dedup');
    const plan: DedupPlan = {
      run: 'bench-dedup',
      store,
      encoderId: ENCODER,
      dim: DIM,
      settings,
      groupsTable: dedupTables(ENCODER, settings).groups,
      workDir,
      poolShards: await writeShardList(shards, dedupFiles(workDir).poolShardPlan),
      poolFingerprint: contentFingerprint(shards),
      poolRows: c.rows,
      tableHasOtherRows: false,
      chunks: Math.min(shards.length, Math.ceil(c.rows / c.chunkRows)),
      partitions: c.method === 'ann' ? 1 : Math.max(1, Math.ceil(c.rows / 2_000_000)),
      blockRows: 32_768,
      path: c.method,
      ann: annParams(c.rows, DIM),
      complete: false,
    };
    let started = performance.now();
    if (c.method === 'ann') await ensureAnnIndex(await (await connect(store)).openTable(vectorsTableName(ENCODER)), plan.ann);
    const indexSeconds = (performance.now() - started) / 1000;
    const chunksJoined = Math.min(plan.chunks, c.chunks ?? plan.chunks);
    log(`dedup ${c.rows} rows (${c.method}): index ${indexSeconds.toFixed(1)} s; joining ${chunksJoined} of ${plan.chunks} query chunks`);
    started = performance.now();
    for (let chunk = 0; chunk < chunksJoined; chunk++) for (let p = 0; p < plan.partitions; p++) await joinChunk(plan, chunk, p);
    const joinSeconds = ((performance.now() - started) / 1000) * (plan.chunks / chunksJoined);
    // Linking needs every chunk's edges: the chunks not joined link as empty.
    const measured = { ...plan, chunks: chunksJoined };
    started = performance.now();
    const { removed } = await linkDuplicates(measured);
    const linkSeconds = ((performance.now() - started) / 1000) * (plan.chunks / chunksJoined);
    await dropEdges(measured);
    const secondsPerRow = (indexSeconds + joinSeconds + linkSeconds) / c.rows;
    log(`dedup ${c.rows} rows (${c.method}): join ${joinSeconds.toFixed(1)} s${chunksJoined < plan.chunks ? ' (scaled)' : ''}, link ${linkSeconds.toFixed(1)} s, ${removed} removed; ${(secondsPerRow * 1e6).toFixed(1)} µs a row`);
    return { rows: c.rows, method: c.method, chunksJoined, chunks: plan.chunks, indexSeconds, joinSeconds, linkSeconds, secondsPerRow, removed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `dedup_s_per_row_<size>` and how each was measured. */
export function dedupFigures(measured: { key: string; m: DedupMeasurement }[]): Record<string, unknown> {
  return Object.fromEntries(
    measured.flatMap(({ key, m }) => [
      [`dedup_s_per_row_${key}`, Number(m.secondsPerRow.toPrecision(3))],
      [`dedup_${key}_route`, `${m.method}, ${m.rows} rows, ${m.chunksJoined} of ${m.chunks} query chunks joined${m.chunksJoined < m.chunks ? ' (joins and link scaled to all)' : ''}, index ${m.indexSeconds.toFixed(1)} s, ${m.removed} removed`],
    ]),
  );
}
