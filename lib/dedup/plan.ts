import type { RunConfig } from '../config/schema';
import { type ShardPlan, writeShardList } from '../embed/shard-plan';
import type { AnnParams } from '../retrieval/ann';
import { RetrievalInputError } from '../retrieval/errors';
import { embeddedPool, searchPath } from '../retrieval/embedded-pool';
import { RunLayout } from '../run-layout';
import { partitionPoolShards } from '../selection/plan';
import { contentFingerprint, type ShardRef } from '../sources/shard-ref';
import { dedupComplete, type DedupSettings, dedupTables } from './tables';

/** What every deduplication activity needs, small enough for payloads: the pool's shard list lives in a file. */
export interface DedupPlan {
  run: string;
  store: string;
  encoderId: string;
  dim: number;
  settings: DedupSettings;
  /** The groups table (lib/dedup/tables.ts). */
  groupsTable: string;
  /** The run's dedup folder (lib/run-layout.ts dedupFiles). */
  workDir: string;
  /** The pool's shards, sorted by id: chunks and partitions are contiguous runs of it. */
  poolShards: ShardPlan;
  /** The shards' ids and versions as one hash: the groups are reused only for the same. */
  poolFingerprint: string;
  poolRows: number;
  /** Whether the vectors table holds rows beyond the pool's (target images): the index path then filters by shard. */
  tableHasOtherRows: boolean;
  /** Pool rows split into this many query chunks (`dedup.chunkRows`)… */
  chunks: number;
  /** …each searched against this many pool partitions (`retrieval.partitionRows`; one on the index path). */
  partitions: number;
  blockRows: number;
  path: 'exact' | 'ann';
  ann: AnnParams;
  /** The groups of this encoder, settings and pool are already in the store: nothing to compute. */
  complete: boolean;
}

/** The shards of query chunk `chunk`: a contiguous run of the sorted list, as a partition is. */
export const chunkShards = (plan: DedupPlan, chunk: number): Promise<ShardRef[]> => partitionPoolShards({ workDir: plan.workDir, poolShards: plan.poolShards, partitions: plan.chunks }, chunk);

/** The shards of pool partition `partition`. */
export const partitionShards = (plan: DedupPlan, partition: number): Promise<ShardRef[]> => partitionPoolShards(plan, partition);

/**
 * Lists the pool's shards (to a file), counts its vectors, finds whether its groups are already
 * complete, and chooses the self-join's search path by estimated cost unless `dedup.method` names
 * one. Deterministic: planning twice gives the same plan.
 */
export async function planDedup(config: RunConfig): Promise<DedupPlan> {
  const d = config.dedup;
  const { encoderId, db, table, dim, poolShards, poolRows } = await embeddedPool(config);
  if (poolRows === 0) {
    const how = d.encoder ? 'with dedup.encoder first (septPipeline does; alone: `sept embed` of the run with dedup.encoder as its encoder)' : 'first (sept embed)';
    throw new RetrievalInputError(`the pool has no vectors for encoder ${encoderId}: embed it ${how}`);
  }
  const settings = { threshold: d.threshold, method: d.method, neighbours: d.neighbours };
  const tables = dedupTables(encoderId, settings);
  const poolFingerprint = contentFingerprint(poolShards);
  const files = new RunLayout(config.outputDir, config.name).dedup;
  const { path, ann } = await searchPath({ table, dim, poolRows }, { targets: poolRows, targetChunk: d.chunkRows, ann: config.retrieval.ann, setting: d.method });
  return {
    run: config.name,
    store: config.store.uri,
    encoderId,
    dim,
    settings,
    groupsTable: tables.groups,
    workDir: files.dir,
    poolShards: await writeShardList(poolShards, files.poolShardPlan),
    poolFingerprint,
    poolRows,
    tableHasOtherRows: (await table.countRows()) > poolRows,
    chunks: Math.min(poolShards.length, Math.ceil(poolRows / d.chunkRows)),
    partitions: path === 'ann' ? 1 : Math.min(poolShards.length, Math.ceil(poolRows / config.retrieval.partitionRows)),
    blockRows: config.retrieval.blockRows,
    path,
    ann,
    complete: await dedupComplete(db, tables, poolFingerprint),
  };
}
