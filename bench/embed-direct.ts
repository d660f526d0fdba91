// The embedding stage without Temporal, for bench:embed: one process checks the encoder, lists the
// shards, stages them in the same window as embedPool, commits finished ones one batch at a time,
// and compacts, in the same order of operations. Run as `embed-direct.ts <file>` with
// {measured, warmup} run configs: embeds the warm-up pool, then prints {perSecond} of the measured one.
import { readFileSync } from 'node:fs';
import type { RunConfig } from '../lib/config/schema';
import { Embedder } from '../lib/embed/embedder';
import { prepareVectorDestination } from '../lib/embed/prepare';
import { stageShard } from '../lib/embed/stage-shard';
import type { VectorDestination } from '../lib/embed/destination';
import { listAllShards } from '../lib/sources/list-shards';
import type { ShardRef } from '../lib/sources/shard-ref';
import { commitStagedShards, compactEncoderTables } from '../lib/vectors/commit';
import { openStore } from '../lib/vectors/connect';

async function direct(cfg: RunConfig): Promise<{ perSecond: number }> {
  const start = Date.now();
  const destination: VectorDestination = await prepareVectorDestination(cfg.encoder, cfg.store.uri);
  const shards = await listAllShards(cfg.pool.sources);
  const db = await openStore(cfg.store.uri);
  let samples = 0;
  let next = 0;
  const staged: ShardRef[] = [];
  let commits = Promise.resolve();
  const lane = async () => {
    while (next < shards.length) {
      const shard = shards[next++];
      const { samples: count } = await stageShard(shard, destination);
      samples += count;
      staged.push(shard);
      commits = commits.then(async () => {
        const batch = staged.splice(0);
        if (batch.length > 0) await commitStagedShards(db, destination.encoderId, destination.dims, batch);
      });
    }
  };
  await Promise.all(Array.from({ length: cfg.embed.window }, lane));
  await commits;
  await compactEncoderTables(db, destination.encoderId);
  return { perSecond: Math.round((samples / (Date.now() - start)) * 10_000) / 10 };
}


async function main(): Promise<void> {
  const { measured, warmup } = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { measured: RunConfig; warmup: RunConfig };
  await direct(warmup);
  console.log(JSON.stringify(await direct(measured)));
  await Embedder.closeAll();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
