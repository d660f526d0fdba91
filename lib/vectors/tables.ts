import { createHash } from 'node:crypto';
import type { Connection, Table } from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Float64, Int32, Schema, Utf8 } from 'apache-arrow';

/**
 * Tables of one encoder. Each encoder has its own: vector sizes differ between encoders, and no
 * run of one encoder ever contends for another's commits. Rows still carry the encoder id.
 *
 * - vectors: one row per embedded sample (id, encoder_id, shard_id, vector)
 * - quarantine: one row per bad sample (id, encoder_id, shard_id, reason, detail)
 * - shards: one row per committed shard with the content version its rows were embedded from; a
 *   shard listed here with the version it has now is done and is skipped from then on
 * - staging: one table per embedded but uncommitted shard, under a name derived from the shard id
 */
export const tableNames = (encoderId: string) => ({
  vectors: `vectors_${encoderId}`,
  quarantine: `quarantine_${encoderId}`,
  shards: `shards_${encoderId}`,
});

export function stagingTableName(encoderId: string, shardId: string): string {
  return `staging_${encoderId}_${createHash('sha256').update(shardId).digest('hex').slice(0, 24)}`;
}

export const vectorField = (dims: number) => new Field('vector', new FixedSizeList(dims, new Field('item', new Float32(), false)), false);

export const vectorsSchema = (dims: number) =>
  new Schema([new Field('id', new Utf8(), false), new Field('encoder_id', new Utf8(), false), new Field('shard_id', new Utf8(), false), vectorField(dims)]);

export const quarantineSchema = new Schema([
  new Field('id', new Utf8(), false),
  new Field('encoder_id', new Utf8(), false),
  new Field('shard_id', new Utf8(), false),
  new Field('reason', new Utf8(), false),
  new Field('detail', new Utf8(), false),
]);

export const shardsSchema = new Schema([
  new Field('shard_id', new Utf8(), false),
  new Field('encoder_id', new Utf8(), false),
  new Field('samples', new Int32(), false),
  new Field('embedded', new Int32(), false),
  new Field('quarantined', new Int32(), false),
  new Field('committed_at_ms', new Float64(), false),
  new Field('version', new Utf8(), false),
]);

/**
 * Shards tables created before content versions were kept lack the `version` column: it is added,
 * '' for every record, so such a shard no longer matches its listing and is embedded again once.
 */
export async function ensureShardVersions(db: Connection, encoderId: string): Promise<void> {
  const name = tableNames(encoderId).shards;
  const hasVersion = async () => (await (await openTable(db, name)).schema()).fields.some((f) => f.name === 'version');
  if (await hasVersion()) return;
  try {
    await (await openTable(db, name)).addColumns([{ name: 'version', valueSql: "''" }]);
  } catch (err) {
    // Another worker added it first.
    if (!(await hasVersion())) throw err;
  }
}

/** Creates the encoder's tables when absent; concurrent creators all end up with the same tables. */
export async function ensureEncoderTables(db: Connection, encoderId: string, dims: number): Promise<void> {
  const names = tableNames(encoderId);
  const schemas: [string, Schema][] = [
    [names.vectors, vectorsSchema(dims)],
    [names.quarantine, quarantineSchema],
    [names.shards, shardsSchema],
  ];
  for (const [name, schema] of schemas) {
    // existOk alone would compare schemas, and LanceDB reports a stored table's schema a little differently.
    const exists = await db.openTable(name).then(() => true, () => false);
    if (!exists) await db.createEmptyTable(name, schema, { mode: 'create', existOk: true });
  }
  await ensureShardVersions(db, encoderId);
}

/** A fresh handle: a Table handle reads the snapshot it was opened with, and commits by others must be seen. */
export function openTable(db: Connection, name: string): Promise<Table> {
  return db.openTable(name);
}

/** A SQL string literal for LanceDB filters. */
export const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;
export const sqlIn = (column: string, values: string[]) => `${column} IN (${values.map(sqlString).join(', ')})`;
