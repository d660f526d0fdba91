// Exactly one row per sample and encoder, however often and however concurrently a shard runs.
// Demo CNN test encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Embedder } from '../../../lib/embed/embedder';
import { prepareVectorDestination } from '../../../lib/embed/prepare';
import { stageShard } from '../../../lib/embed/stage-shard';
import { listShards } from '../../../lib/sources/list-shards';
import { arrowTable } from '../../../lib/vectors/arrow';
import { Field, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import { commitStagedShards, committedShards, currentlyCommitted } from '../../../lib/vectors/commit';
import { openStore } from '../../../lib/vectors/connect';
import { readStaging } from '../../../lib/vectors/staging';
import { ensureEncoderTables, tableNames, vectorsSchema } from '../../../lib/vectors/tables';
import { tempDir } from '../../support/tmp';
import { demoEmbedConfig, fashionShards, storedVectors } from '../../support/embedding';

async function setup() {
  const config = await demoEmbedConfig(tempDir(), await fashionShards(2));
  const destination = await prepareVectorDestination(config.encoder, config.store.uri);
  const shards = await listShards(config.pool.sources[0]);
  return { destination, shards, db: await openStore(destination.store) };
}

describe('embedShard idempotency', () => {
  after(() => Embedder.closeAll());

  it('two attempts of one shard at once (a zombie and its retry) leave exactly one row per sample', async () => {
    const { destination, shards, db } = await setup();
    const [zombie, retry] = await Promise.all([stageShard(shards[0], destination), stageShard(shards[0], destination)]);
    assert.equal(zombie.samples, 1000);
    assert.equal(retry.samples, 1000);
    // Both attempts hand the shard to the committer, which embedPool runs one at a time.
    const first = await commitStagedShards(db, destination.encoderId, destination.dims, [shards[0]]);
    const second = await commitStagedShards(db, destination.encoderId, destination.dims, [shards[0]]);
    assert.equal(first.committed.length, 1);
    assert.equal(second.alreadyCommitted.length, 1);
    const late = await stageShard(shards[0], destination);
    assert.equal(late.status, 'already-committed', 'a late attempt after the commit does nothing');
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.equal(stored.ids.length, 1000);
    assert.equal(new Set(stored.ids).size, 1000);
  });

  it('a commit killed after appending rows but before recording its shards is repaired by running it again', async () => {
    const { destination, shards, db } = await setup();
    await Promise.all(shards.map((s) => stageShard(s, destination)));
    // What a killed commit leaves behind: the first shard's rows appended, no record of it.
    const partial = (await readStaging(db, destination.encoderId, destination.dims, shards[0].id))!;
    await (await db.openTable(tableNames(destination.encoderId).vectors)).add(
      arrowTable(vectorsSchema(destination.dims), partial.ids.length, {
        id: partial.ids,
        encoder_id: partial.ids.map(() => destination.encoderId),
        shard_id: partial.ids.map(() => partial.shardId),
        vector: partial.vectors,
      }),
    );
    const outcome = await commitStagedShards(db, destination.encoderId, destination.dims, shards);
    assert.deepEqual(outcome.committed.map((t) => t.shardId), shards.map((s) => s.id));
    const again = await commitStagedShards(db, destination.encoderId, destination.dims, shards);
    assert.equal(again.committed.length, 0);
    assert.equal(again.alreadyCommitted.length, 2);
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.equal(stored.ids.length, 2000);
    assert.equal(new Set(stored.ids).size, 2000);
  });

  it('reports a shard neither staged nor committed as missing, so the workflow embeds it again', async () => {
    const { destination, shards, db } = await setup();
    const outcome = await commitStagedShards(db, destination.encoderId, destination.dims, [shards[1]]);
    assert.deepEqual(outcome, { committed: [], alreadyCommitted: [], missing: [shards[1].id] });
  });

  it('replaces a shard whose content changed, exactly once however often its attempts and commits run', async () => {
    const { destination, shards, db } = await setup();
    const [shard] = shards;
    await stageShard(shard, destination);
    await commitStagedShards(db, destination.encoderId, destination.dims, [shard]);
    // The same shard listed with another content version (its file was rewritten under the same name).
    const changed = { ...shard, version: `${shard.version}-rewritten` };
    assert.equal((await stageShard(shard, destination)).status, 'already-committed');
    const [zombie, retry] = await Promise.all([stageShard(changed, destination), stageShard(changed, destination)]);
    assert.deepEqual([zombie.status, retry.status], ['staged', 'staged'], 'the committed version does not stand for the new one');
    // A commit killed after deleting the old rows, before recording the new version, is run again; then once more.
    const vectors = await db.openTable(tableNames(destination.encoderId).vectors);
    await vectors.delete(`shard_id = '${shard.id}'`);
    const first = await commitStagedShards(db, destination.encoderId, destination.dims, [changed]);
    const second = await commitStagedShards(db, destination.encoderId, destination.dims, [changed]);
    assert.deepEqual([first.committed.length, second.alreadyCommitted.length], [1, 1]);
    assert.deepEqual((await committedShards(db, destination.encoderId, [shard.id])).map((r) => r.version), [changed.version]);
    assert.equal((await stageShard(changed, destination)).status, 'already-committed');
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.equal(stored.ids.length, 1000);
    assert.equal(new Set(stored.ids).size, 1000);
  });

  it('commits only the listed version: one a zombie staged as the shard was before is embedded again', async () => {
    const { destination, shards, db } = await setup();
    const [shard] = shards;
    const changed = { ...shard, version: `${shard.version}-rewritten` };
    // The attempt of the listed version staged first, a zombie of the version before overwrote it.
    await stageShard(changed, destination);
    await stageShard(shard, destination);
    assert.deepEqual(await commitStagedShards(db, destination.encoderId, destination.dims, [changed]), { committed: [], alreadyCommitted: [], missing: [shard.id] });
    assert.deepEqual(await committedShards(db, destination.encoderId, [shard.id]), [], 'nothing committed');
    // Embedded again, as the workflow does with a missing shard.
    await stageShard(changed, destination);
    assert.equal((await commitStagedShards(db, destination.encoderId, destination.dims, [changed])).committed.length, 1);

    // A record of another version does not stand for the listed one either.
    const again = { ...shard, version: `${shard.version}-again` };
    assert.deepEqual((await commitStagedShards(db, destination.encoderId, destination.dims, [again])).missing, [shard.id]);
    assert.deepEqual((await committedShards(db, destination.encoderId, [shard.id])).map((r) => r.version), [changed.version]);
    // Ids alone (a commit scheduled before versions were passed) commit whatever is staged.
    assert.equal((await commitStagedShards(db, destination.encoderId, destination.dims, [{ id: shard.id }])).alreadyCommitted.length, 1, 'the staged version is the recorded one');
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.equal(new Set(stored.ids).size, stored.ids.length);
  });

  it('embeds a shard committed before versions were kept once more, then skips it', async () => {
    const { destination, shards, db } = await setup();
    const [shard] = shards;
    // A shards table as it was: no version column, one record.
    const legacy = new Schema([
      ...['shard_id', 'encoder_id'].map((n) => new Field(n, new Utf8(), false)),
      ...['samples', 'embedded', 'quarantined'].map((n) => new Field(n, new Int32(), false)),
      new Field('committed_at_ms', new Float64(), false),
    ]);
    const name = tableNames(destination.encoderId).shards;
    await db.createTable(name, arrowTable(legacy, 1, { shard_id: [shard.id], encoder_id: [destination.encoderId], samples: [1000], embedded: [1000], quarantined: [0], committed_at_ms: [0] }), { mode: 'overwrite' });
    await ensureEncoderTables(db, destination.encoderId, destination.dims);
    assert.deepEqual((await committedShards(db, destination.encoderId, [shard.id])).map((r) => r.version), ['']);
    assert.deepEqual(await currentlyCommitted(db, destination.encoderId, [shard]), [], 'no listing vouches for its rows');
    assert.equal((await stageShard(shard, destination)).status, 'staged');
    assert.equal((await commitStagedShards(db, destination.encoderId, destination.dims, [shard])).committed.length, 1);
    assert.equal((await stageShard(shard, destination)).status, 'already-committed');
  });
});
