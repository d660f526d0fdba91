import type { Connection } from '@lancedb/lancedb';
import { arrowTable, numberColumn, stringColumn } from './arrow';
import { dropStaging, readStaging, type ShardTally, tallyOf } from './staging';
import { openTable, quarantineSchema, shardsSchema, sqlIn, tableNames, vectorsSchema } from './tables';

export interface CommitOutcome {
  /** Shards whose rows this commit added. */
  committed: ShardTally[];
  /** Shards already recorded by an earlier commit: nothing added. */
  alreadyCommitted: ShardTally[];
  /** Shards neither recorded nor staged: they must be embedded again. */
  missing: string[];
}

/** The commit records of these shards, if any. */
export async function committedShards(db: Connection, encoderId: string, shardIds: string[]): Promise<ShardTally[]> {
  if (shardIds.length === 0) return [];
  const table = await (await openTable(db, tableNames(encoderId).shards)).query().where(sqlIn('shard_id', shardIds)).toArrow();
  const ids = stringColumn(table, 'shard_id');
  const [samples, embedded, quarantined] = ['samples', 'embedded', 'quarantined'].map((c) => numberColumn(table, c));
  return ids.map((shardId, i) => ({ shardId, samples: samples[i], embedded: embedded[i], quarantined: quarantined[i] }));
}

/**
 * Moves staged shards into the encoder's tables and records them. The caller runs one commit at a
 * time per encoder (the embedPool workflow awaits each before the next), which is what keeps
 * exactly one row per sample: LanceDB detects no duplicate keys across concurrent writers.
 *
 * Each step is one atomic LanceDB write, ordered so that a commit killed anywhere is repaired by
 * running it again: rows of unrecorded shards left by a killed commit are deleted first, the
 * shards' rows are appended (one write per table), and only then are the shards recorded.
 */
export async function commitStagedShards(
  db: Connection,
  encoderId: string,
  dims: number,
  shardIds: string[],
  /** Called before every write; throws to stop a commit that may no longer write (see activities/embed.ts). */
  beforeWrite: () => void = () => undefined,
): Promise<CommitOutcome> {
  const names = tableNames(encoderId);
  const recorded = await committedShards(db, encoderId, shardIds);
  const done = new Set(recorded.map((r) => r.shardId));
  const staged = [];
  const missing: string[] = [];
  for (const shardId of shardIds.filter((id) => !done.has(id))) {
    const shard = await readStaging(db, encoderId, dims, shardId);
    if (shard) staged.push(shard);
    else missing.push(shardId);
  }
  if (staged.length > 0) {
    const vectors = await openTable(db, names.vectors);
    const quarantine = await openTable(db, names.quarantine);
    const stagedIds = staged.map((s) => s.shardId);
    for (const table of [vectors, quarantine]) {
      if ((await table.countRows(sqlIn('shard_id', stagedIds))) === 0) continue;
      beforeWrite();
      await table.delete(sqlIn('shard_id', stagedIds));
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
    await (await openTable(db, names.shards)).add(
      arrowTable(shardsSchema, tallies.length, {
        shard_id: tallies.map((t) => t.shardId),
        encoder_id: tallies.map(() => encoderId),
        samples: tallies.map((t) => t.samples),
        embedded: tallies.map((t) => t.embedded),
        quarantined: tallies.map((t) => t.quarantined),
        committed_at_ms: tallies.map(() => now),
      }),
    );
  }
  for (const shardId of [...done, ...staged.map((s) => s.shardId)]) await dropStaging(db, encoderId, shardId);
  return { committed: staged.map(tallyOf), alreadyCommitted: recorded, missing };
}

/** Compacts the encoder's tables: every commit adds fragments and versions that readers would otherwise wade through. */
export async function compactEncoderTables(db: Connection, encoderId: string): Promise<void> {
  for (const name of Object.values(tableNames(encoderId))) await (await openTable(db, name)).optimize();
}
