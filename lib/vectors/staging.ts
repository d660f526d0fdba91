import type { Connection } from '@lancedb/lancedb';
import { Field, Schema, Utf8 } from 'apache-arrow';
import type { BadSampleReason } from '../preprocess';
import type { ShardRef } from '../sources/shard-ref';
import { arrowTable, stringColumn, vectorColumn } from './arrow';
import { stagingTableName, vectorField } from './tables';

export interface QuarantinedSample {
  id: string;
  reason: BadSampleReason;
  detail: string;
}

/** What embedding one shard produced: vectors of its good samples (in shard order) and its bad samples. */
export interface ShardVectors {
  shardId: string;
  /** The content version embedded (ShardRef.version; '' when the plan had none). */
  version: string;
  /** How the shard was stored (ShardRef.format): a listing's samples may move to another shard of their source when it changes; a tar's stay in it. */
  format: NonNullable<ShardRef['format']>;
  samples: number;
  ids: string[];
  /** ids.length x dims floats. */
  vectors: Float32Array;
  quarantined: QuarantinedSample[];
}

export interface ShardTally {
  shardId: string;
  samples: number;
  embedded: number;
  quarantined: number;
}

export const tallyOf = (s: ShardVectors): ShardTally => ({ shardId: s.shardId, samples: s.samples, embedded: s.ids.length, quarantined: s.quarantined.length });

// One table per shard holds both kinds of rows (reason '' = embedded), so a shard is staged in a
// single atomic write: a reader sees all of it or none of it. Its schema's metadata says which
// version of the shard it holds, also when the shard has no sample at all.
const stagingSchema = (dims: number, shard: Pick<ShardVectors, 'version' | 'format'>) =>
  new Schema(
    [new Field('id', new Utf8(), false), vectorField(dims), new Field('reason', new Utf8(), false), new Field('detail', new Utf8(), false)],
    new Map([
      ['shard_version', shard.version],
      ['shard_format', shard.format],
    ]),
  );

const SHARD_FORMATS = ['webdataset', 'manifest', 'folder'] as const satisfies readonly ShardVectors['format'][];

/** Staging written before versions were kept holds an unknown version (''), which no listing matches. */
const stagedIdentity = (metadata: Map<string, string>): Pick<ShardVectors, 'version' | 'format'> => ({
  version: metadata.get('shard_version') ?? '',
  format: SHARD_FORMATS.find((f) => f === metadata.get('shard_format')) ?? 'webdataset',
});

/**
 * Stages a shard under its deterministic name. Two attempts of one shard (a zombie and its retry)
 * overwrite each other atomically with the same rows; the committer, alone, moves staged rows
 * into the encoder's tables.
 */
export async function writeStaging(db: Connection, encoderId: string, dims: number, shard: ShardVectors): Promise<void> {
  const rows = shard.ids.length + shard.quarantined.length;
  const vectors = new Float32Array(rows * dims);
  vectors.set(shard.vectors);
  const bad = shard.quarantined;
  const table = arrowTable(stagingSchema(dims, shard), rows, {
    id: [...shard.ids, ...bad.map((q) => q.id)],
    vector: vectors,
    reason: [...shard.ids.map(() => ''), ...bad.map((q) => q.reason)],
    detail: [...shard.ids.map(() => ''), ...bad.map((q) => q.detail)],
  });
  const name = stagingTableName(encoderId, shard.shardId);
  try {
    // Create first, overwrite only when an earlier attempt left the table (the common case creates).
    await db.createTable(name, table).catch(async (err: Error) => {
      if (!/already exists/i.test(err.message)) throw err;
      await db.createTable(name, table, { mode: 'overwrite' });
    });
  } catch (err) {
    // Two overwrites at once: LanceDB lets one commit and fails the other with a conflict. The
    // loser's rows are the winner's rows, so the shard is staged either way.
    if (!(await readStaging(db, encoderId, dims, shard.shardId))) throw err;
  }
}

/** Which version of a shard is staged, without reading its rows; undefined when none is. */
export async function stagedVersion(db: Connection, encoderId: string, shardId: string): Promise<string | undefined> {
  try {
    return stagedIdentity((await (await db.openTable(stagingTableName(encoderId, shardId))).schema()).metadata).version;
  } catch {
    return undefined;
  }
}

/** The staged output of a shard, or undefined when it is not (or no longer) staged. */
export async function readStaging(db: Connection, encoderId: string, dims: number, shardId: string): Promise<ShardVectors | undefined> {
  let table;
  let identity;
  try {
    const handle = await db.openTable(stagingTableName(encoderId, shardId));
    identity = stagedIdentity((await handle.schema()).metadata);
    table = await handle.query().toArrow();
  } catch {
    return undefined;
  }
  const ids = stringColumn(table, 'id');
  const reasons = stringColumn(table, 'reason');
  const details = stringColumn(table, 'detail');
  const all = vectorColumn(table, 'vector', dims);
  const good = reasons.findIndex((r) => r !== '');
  const embedded = good === -1 ? ids.length : good;
  return {
    shardId,
    ...identity,
    samples: ids.length,
    ids: ids.slice(0, embedded),
    vectors: all.subarray(0, embedded * dims),
    quarantined: ids.slice(embedded).map((id, i) => ({ id, reason: reasons[embedded + i] as BadSampleReason, detail: details[embedded + i] })),
  };
}

export async function dropStaging(db: Connection, encoderId: string, shardId: string): Promise<void> {
  await db.dropTable(stagingTableName(encoderId, shardId)).catch(() => undefined);
}

/** Drops every staging table of an encoder: after a run commits all its shards, what is left was written by zombies. */
export async function dropAllStaging(db: Connection, encoderId: string): Promise<number> {
  const prefix = `staging_${encoderId}_`;
  let dropped = 0;
  // Names come sorted: page from the prefix until a name no longer starts with it.
  for (let after = prefix; ; ) {
    const page = await db.tableNames({ startAfter: after, limit: 1000 });
    const staging = page.filter((n) => n.startsWith(prefix));
    for (const name of staging) await db.dropTable(name).catch(() => undefined);
    dropped += staging.length;
    if (staging.length < page.length || page.length === 0) return dropped;
    after = page[page.length - 1];
  }
}
