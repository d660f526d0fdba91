import type { Connection, Table } from '@lancedb/lancedb';
import type { RunConfig } from '../config/schema';
import { encoderIdOf } from '../encoder/encoder-id';
import { localEncoderSpec } from '../encoder/model-file';
import { listAllShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';
import { openStore } from '../vectors/connect';
import { type AnnOverrides, annIndexReady, annParams, type AnnParams } from './ann';
import { type SearchCost, searchCost } from './cost';
import { machineRates } from './machine-rates';
import { openVectors, shardFilter, vectorDim } from './vector-store';

/** A run's pool as the embedding stage left it: the encoder's vectors table, and the pool's shards sorted by id. */
export interface EmbeddedPool {
  encoderId: string;
  db: Connection;
  table: Table;
  dim: number;
  poolShards: ShardRef[];
  /** The vectors of the pool's shards (the table may hold target rows too). */
  poolRows: number;
}

/** Opens the configured encoder's vectors and lists the pool's shards: where the selection's and deduplication's plans start. */
export async function embeddedPool(config: RunConfig): Promise<EmbeddedPool> {
  const encoderId = await encoderIdOf(await localEncoderSpec(config.encoder));
  const db = await openStore(config.store.uri);
  const table = await openVectors(db, encoderId);
  const dim = await vectorDim(table);
  const poolShards = (await listAllShards(config.pool.sources)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const poolRows = await table.countRows(shardFilter(poolShards.map((s) => s.id)));
  return { encoderId, db, table, dim, poolShards, poolRows };
}

/**
 * The search path for `targets` queries against the pool, `targetChunk` at a time: the one `setting`
 * names, or for `auto` the one of lower estimated cost (lib/retrieval/cost.ts), and its index parameters.
 */
export async function searchPath(
  pool: Pick<EmbeddedPool, 'table' | 'dim' | 'poolRows'>,
  query: { targets: number; targetChunk: number; ann: AnnOverrides; setting: 'auto' | 'exact' | 'ann' },
): Promise<{ path: 'exact' | 'ann'; cost: SearchCost; ann: AnnParams }> {
  const { table, dim, poolRows } = pool;
  const ann = annParams(poolRows, dim, query.ann);
  const cost = searchCost({ targets: query.targets, rows: poolRows, dim, targetChunk: query.targetChunk, ann, indexReady: await annIndexReady(table, ann), rates: await machineRates() });
  return { path: query.setting === 'auto' ? cost.choice : query.setting, cost, ann };
}
