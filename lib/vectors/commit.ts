import type { Connection } from '@lancedb/lancedb';
import { holdsImages, type ShardRef } from '../sources/shard-ref';
import { arrowTable, numberColumn, stringColumn } from './arrow';
import { dropStaging, readStaging, stagedVersion, type ShardTally, type ShardVectors, tallyOf } from './staging';
import { ensureShardVersions, openTable, quarantineSchema, shardsSchema, sqlIn, tableNames, vectorsSchema } from './tables';

export interface CommitOutcome {
  /** Shards whose rows this commit added. */
  committed: ShardTally[];
  /** Shards already recorded by an earlier commit: nothing added. */
  alreadyCommitted: ShardTally[];
  /** Shards neither recorded nor staged: they must be embedded again. */
  missing: string[];
}

/** A shard's commit record: its tally and the content version its rows were embedded from. */
export interface CommitRecord extends ShardTally {
  /** '' for records written before versions were kept (and for plans without versions). */
  version: string;
}

/** The commit records of these shards, if any. */
export async function committedShards(db: Connection, encoderId: string, shardIds: string[]): Promise<CommitRecord[]> {
  if (shardIds.length === 0) return [];
  const table = await (await openTable(db, tableNames(encoderId).shards)).query().where(sqlIn('shard_id', shardIds)).toArrow();
  const ids = stringColumn(table, 'shard_id');
  const [samples, embedded, quarantined] = ['samples', 'embedded', 'quarantined'].map((c) => numberColumn(table, c));
  const versions = stringColumn(table, 'version');
  return ids.map((shardId, i) => ({ shardId, samples: samples[i], embedded: embedded[i], quarantined: quarantined[i], version: versions[i] ?? '' }));
}

const tally = ({ shardId, samples, embedded, quarantined }: ShardTally): ShardTally => ({ shardId, samples, embedded, quarantined });

/**
 * The tallies of those shards that are committed as they are now: same id and same content
 * version. A shard changed since its commit is not among them, and neither is one committed before
 * versions were kept (its version is ''): no listing vouches for its rows, so it is embedded again,
 * once, and its rows replaced.
 */
export async function currentlyCommitted(db: Connection, encoderId: string, shards: ShardRef[]): Promise<ShardTally[]> {
  const records = new Map((await committedShards(db, encoderId, shards.map((s) => s.id))).map((r) => [r.shardId, r]));
  return shards.flatMap((shard) => {
    const record = records.get(shard.id);
    return record && record.version === (shard.version ?? '') ? [tally(record)] : [];
  });
}

/**
 * The commit records of these shards that are of another content version than listed: their rows
 * are stale. None where the store keeps no commit records (vectors written by other means).
 */
export async function changedSinceCommit(db: Connection, encoderId: string, shards: ShardRef[]): Promise<CommitRecord[]> {
  const hasRecords = await openTable(db, tableNames(encoderId).shards).then(() => true, () => false);
  if (!hasRecords) return [];
  const listed = new Map(shards.map((s) => [s.id, s.version ?? '']));
  return (await committedShards(db, encoderId, [...listed.keys()])).filter((r) => r.version !== listed.get(r.shardId));
}

/** Filters in slices short enough for one SQL string. */
const idSlices = (ids: string[], size = 1000) => Array.from({ length: Math.ceil(ids.length / size) }, (_, i) => sqlIn('id', ids.slice(i * size, (i + 1) * size)));

/**
 * Moves staged shards into the encoder's tables and records them. The caller runs one commit at a
 * time per encoder (the embedPool workflow awaits each before the next), which is what keeps
 * exactly one row per sample: LanceDB detects no duplicate keys across concurrent writers.
 *
 * A recorded shard stands unless another version of it is staged (its content changed): that one
 * replaces it. Each step is one atomic LanceDB write, ordered so that a commit killed anywhere is
 * repaired by running it again: the staged shards' old rows are deleted first (rows left by a
 * killed commit, or those of the version being replaced; for a changed manifest shard also rows of
 * its samples under another shard id, where a shifted listing had them), then the records of
 * replaced versions, then the shards' rows are appended (one write per table), and only then are
 * the shards recorded with their versions.
 *
 * Each shard comes with the version it was listed at, which alone may be committed: a staged
 * version other than that (a zombie attempt that embedded the shard as it was before, just before
 * the commit) is not, and the shard is reported missing, to be embedded again; a record of the
 * listed version stands. Without a listed version (ids passed alone by executions started before
 * versions were, or plans listed before versions were kept), whatever is staged is committed.
 */
export async function commitStagedShards(
  db: Connection,
  encoderId: string,
  dims: number,
  shards: readonly Pick<ShardRef, 'id' | 'version'>[],
  /** Called before every write; throws to stop a commit that may no longer write (see activities/embed.ts). */
  beforeWrite: () => void = () => undefined,
): Promise<CommitOutcome> {
  const names = tableNames(encoderId);
  const records = new Map((await committedShards(db, encoderId, shards.map((s) => s.id))).map((r) => [r.shardId, r]));
  const alreadyCommitted: ShardTally[] = [];
  const staged: ShardVectors[] = [];
  const missing: string[] = [];
  for (const { id: shardId, version: listed } of shards) {
    const record = records.get(shardId);
    // The version to commit: the listed one; with none listed, whatever is staged, else the record's.
    const wanted = listed ?? (await stagedVersion(db, encoderId, shardId)) ?? record?.version;
    const shard = record?.version === wanted ? undefined : await readStaging(db, encoderId, dims, shardId);
    if (shard && (listed === undefined || shard.version === listed)) staged.push(shard);
    else if (record && (listed === undefined || record.version === listed)) alreadyCommitted.push(tally(record));
    else missing.push(shardId);
  }
  if (staged.length > 0) {
    await ensureShardVersions(db, encoderId);
    const vectors = await openTable(db, names.vectors);
    const quarantine = await openTable(db, names.quarantine);
    const stagedIds = staged.map((s) => s.shardId);
    const replaced = stagedIds.filter((id) => records.has(id));
    const moved = staged.filter((s) => !holdsImages(s) && records.has(s.shardId)).flatMap((s) => [...s.ids, ...s.quarantined.map((q) => q.id)]);
    for (const table of [vectors, quarantine]) {
      for (const stale of [sqlIn('shard_id', stagedIds), ...idSlices(moved)]) {
        if ((await table.countRows(stale)) === 0) continue;
        beforeWrite();
        await table.delete(stale);
      }
    }
    const shardsTable = await openTable(db, names.shards);
    if (replaced.length > 0) {
      beforeWrite();
      await shardsTable.delete(sqlIn('shard_id', replaced));
    }
    const rows = staged.reduce((n, s) => n + s.ids.length, 0);
    const packed = new Float32Array(rows * dims);
    let at = 0;
    for (const s of staged) {
      packed.set(s.vectors, at);
      at += s.vectors.length;
    }
    beforeWrite();
    await vectors.add(
      arrowTable(vectorsSchema(dims), rows, {
        id: staged.flatMap((s) => s.ids),
        encoder_id: staged.flatMap((s) => s.ids.map(() => encoderId)),
        shard_id: staged.flatMap((s) => s.ids.map(() => s.shardId)),
        vector: packed,
      }),
    );
    const bad = staged.flatMap((s) => s.quarantined.map((q) => ({ ...q, shardId: s.shardId })));
    if (bad.length > 0) {
      beforeWrite();
      await quarantine.add(
        arrowTable(quarantineSchema, bad.length, {
          id: bad.map((q) => q.id),
          encoder_id: bad.map(() => encoderId),
          shard_id: bad.map((q) => q.shardId),
          reason: bad.map((q) => q.reason),
          detail: bad.map((q) => q.detail),
        }),
      );
    }
    const tallies = staged.map(tallyOf);
    const now = Date.now();
    beforeWrite();
    await shardsTable.add(
      arrowTable(shardsSchema, tallies.length, {
        shard_id: tallies.map((t) => t.shardId),
        encoder_id: tallies.map(() => encoderId),
        samples: tallies.map((t) => t.samples),
        embedded: tallies.map((t) => t.embedded),
        quarantined: tallies.map((t) => t.quarantined),
        committed_at_ms: tallies.map(() => now),
        version: staged.map((s) => s.version),
      }),
    );
  }
  for (const shardId of [...alreadyCommitted, ...staged].map((s) => s.shardId)) await dropStaging(db, encoderId, shardId);
  return { committed: staged.map(tallyOf), alreadyCommitted, missing };
}

/** Compacts the encoder's tables: every commit adds fragments and versions that readers would otherwise wade through. */
export async function compactEncoderTables(db: Connection, encoderId: string): Promise<void> {
  for (const name of Object.values(tableNames(encoderId))) await (await openTable(db, name)).optimize();
}
