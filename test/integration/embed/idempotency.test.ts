// Exactly one row per sample and encoder, however often and however concurrently a shard runs.
// Demo CNN test encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Embedder } from '../../../lib/embed/embedder';
import { prepareVectorDestination } from '../../../lib/embed/prepare';
import { stageShard } from '../../../lib/embed/stage-shard';
import { listShards } from '../../../lib/sources/list-shards';
import { arrowTable } from '../../../lib/vectors/arrow';
import { commitStagedShards } from '../../../lib/vectors/commit';
import { openStore } from '../../../lib/vectors/connect';
import { readStaging } from '../../../lib/vectors/staging';
import { tableNames, vectorsSchema } from '../../../lib/vectors/tables';
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
    const first = await commitStagedShards(db, destination.encoderId, destination.dims, [shards[0].id]);
    const second = await commitStagedShards(db, destination.encoderId, destination.dims, [shards[0].id]);
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
    const outcome = await commitStagedShards(db, destination.encoderId, destination.dims, shards.map((s) => s.id));
    assert.deepEqual(outcome.committed.map((t) => t.shardId), shards.map((s) => s.id));
    const again = await commitStagedShards(db, destination.encoderId, destination.dims, shards.map((s) => s.id));
    assert.equal(again.committed.length, 0);
    assert.equal(again.alreadyCommitted.length, 2);
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.equal(stored.ids.length, 2000);
    assert.equal(new Set(stored.ids).size, 2000);
  });

  it('reports a shard neither staged nor committed as missing, so the workflow embeds it again', async () => {
    const { destination, shards, db } = await setup();
    const outcome = await commitStagedShards(db, destination.encoderId, destination.dims, [shards[1].id]);
    assert.deepEqual(outcome, { committed: [], alreadyCommitted: [], missing: [shards[1].id] });
  });
});
