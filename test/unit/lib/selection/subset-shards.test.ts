// Subset shards (a selection's, a random pool sample's) travel as one brace range, whatever their count.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MAX_PASS_ACTIVITIES } from '../../../../lib/config/work-limits';
import type { SourceSpec } from '../../../../lib/config/sources';
import { RetrievalInputError } from '../../../../lib/retrieval/errors';
import { RunLayout } from '../../../../lib/run-layout';
import { writeRandomPoolSample } from '../../../../lib/selection/random-sample';
import { planSubsetShardGroups, subsetShardGroups, subsetShardPaths, writeSubsetShardGroup, writeSubsetShards } from '../../../../lib/selection/subset-shards';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { sourceSamples } from '../../../../lib/sources/samples';
import type { ShardRef } from '../../../../lib/sources/shard-ref';
import { readShard } from '../../../../lib/webdataset/reader';
import { shardSetRange, writeShard } from '../../../../lib/webdataset/writer';
import { writeTestPools } from '../../../support/pools';
import { tempDir } from '../../../support/tmp';

describe('subset shards by reference', () => {
  const dir = tempDir();
  let sources: SourceSpec[];
  before(async () => {
    const pools = await writeTestPools(dir);
    sources = [pools.webdataset, pools.folder];
  });

  it('name a numbered set as one brace range, of the same few bytes whatever the count', () => {
    assert.equal(shardSetRange('/out/r/selection/shards', 'subset', 1), '/out/r/selection/shards/subset-{000000..000000}.tar');
    assert.equal(shardSetRange('s3://bucket/r/shards', 'subset', 123_457), 's3://bucket/r/shards/subset-{000000..123456}.tar');
    assert.throws(() => shardSetRange('/out', 'subset', 0), /at least one shard/);
    assert.deepEqual(subsetShardPaths('/o/subset-{000000..000002}.tar'), ['/o/subset-000000.tar', '/o/subset-000001.tar', '/o/subset-000002.tar']);
    assert.deepEqual(subsetShardPaths(['/o/subset-000000.tar']), ['/o/subset-000000.tar'], 'a list, as results of 0.4.0 hold');
  });

  it('a random pool sample comes back as a range that a webdataset source lists to the shards written', async () => {
    const files = new RunLayout(dir, 'r').poolSample('sample');
    const sample = await writeRandomPoolSample({ sources, targetIds: [], draw: { size: 5, seed: 1 }, files, copy: { shardSize: 2, groupSamples: 20 } });
    assert.equal(sample.shards, join(files.shards, 'subset-{000000..000002}.tar'));
    assert.equal(sample.samples, 5);
    const source: SourceSpec = { kind: 'webdataset', name: 'sample', shards: sample.shards };
    const listed = await listAllShards([source]);
    assert.deepEqual(listed.map((s) => s.path), subsetShardPaths(sample.shards));
    let read = 0;
    for (const shard of listed) for await (const _ of sourceSamples(shard)) read++;
    assert.equal(read, 5);
  });

  it('an empty sample names no shard', async () => {
    const files = new RunLayout(dir, 'r').poolSample('empty');
    const sample = await writeRandomPoolSample({ sources, targetIds: [], draw: { size: 0, seed: 1 }, files, copy: { shardSize: 2, groupSamples: 20 } });
    assert.deepEqual(sample.shards, []);
    assert.equal(sample.samples, 0);
  });
});

describe('subset shards copied by groups of pool shards', () => {
  const dir = tempDir();
  let poolShards: ShardRef[];
  let manifest: string;
  before(async () => {
    // Six pool shards of seven samples; every other sample selected, none of shard 3.
    for (let p = 0; p < 6; p++) {
      await writeShard(
        join(dir, 'pool', `pool-${p}.tar`),
        Array.from({ length: 7 }, (_, i) => ({ key: `p${p}s${i}`, files: { png: Buffer.from(`image ${p}/${i}`), json: Buffer.from(JSON.stringify({ label: i })) } })),
      );
    }
    poolShards = await listAllShards([{ kind: 'webdataset', name: 'pool', shards: join(dir, 'pool') }]);
    const lines = poolShards.flatMap((shard, p) => (p === 3 ? [] : [0, 2, 4, 6].map((i) => JSON.stringify({ id: `pool/p${p}s${i}`, shard_id: shard.id }))));
    // The manifest lists samples in selection order, not pool order.
    manifest = join(dir, 'subset.jsonl');
    writeFileSync(manifest, lines.reverse().join('\n') + '\n');
  });

  /** Every sample of a range of shards, in order, with its members' bytes. */
  const samplesOf = async (shards: string) => {
    const read: { key: string; files: Record<string, string> }[] = [];
    for (const shard of subsetShardPaths(shards)) for await (const s of readShard(shard)) read.push({ key: s.key, files: Object.fromEntries(Object.entries(s.files).map(([e, b]) => [e, b.toString('base64')])) });
    return read;
  };

  it('hold the samples of one writer, in the same order and bytes, as one range whatever order the groups finish in', async () => {
    const one = await writeSubsetShards(manifest, poolShards, join(dir, 'one'), 3);
    const dirs = { shards: join(dir, 'grouped'), groups: join(dir, 'groups') };
    // A stale shard of an earlier selection goes with the plan.
    mkdirSync(dirs.shards, { recursive: true });
    writeFileSync(join(dirs.shards, 'subset-000099.tar'), 'stale');
    const plan = await planSubsetShardGroups(manifest, poolShards, dirs, 3, 6);
    // Groups of at least 6 samples: shards 0-1, 2 and 4 (3 has none), 5; each group's last shard short.
    assert.deepEqual(plan, { groups: 3, samples: 20, shards: 8 });
    for (let g = plan.groups - 1; g >= 0; g--) await writeSubsetShardGroup(dirs.groups, g, dirs.shards);
    const range = shardSetRange(dirs.shards, 'subset', plan.shards);
    assert.equal(range, join(dirs.shards, 'subset-{000000..000007}.tar'));
    assert.deepEqual(readdirSync(dirs.shards).sort(), subsetShardPaths(range).map((p) => p.slice(dirs.shards.length + 1)));
    assert.equal(one.samples, 20);
    assert.deepEqual(await samplesOf(range), await samplesOf(one.shards as string));
    assert.equal(JSON.parse(Buffer.from((await samplesOf(range))[0].files.json, 'base64').toString()).id, 'pool/p0s0', 'each sample\'s json gains its pool id');

    // A group retried rewrites its own shards, the same bytes, and no others.
    const before = readdirSync(dirs.shards).map((f) => readFileSync(join(dirs.shards, f)));
    assert.deepEqual(await writeSubsetShardGroup(dirs.groups, 1, dirs.shards), { samples: 8, shards: 3 });
    assert.deepEqual(readdirSync(dirs.shards).map((f) => readFileSync(join(dirs.shards, f))), before);
  });

  it('are one group when the selection is smaller than a group: the same shards as one writer', async () => {
    const one = await writeSubsetShards(manifest, poolShards, join(dir, 'whole-one'), 3);
    const dirs = { shards: join(dir, 'whole'), groups: join(dir, 'whole-groups') };
    const plan = await planSubsetShardGroups(manifest, poolShards, dirs, 3, 1000);
    assert.deepEqual(plan, { groups: 1, samples: 20, shards: 7 });
    await writeSubsetShardGroup(dirs.groups, 0, dirs.shards);
    const shards = subsetShardPaths(one.shards as string);
    assert.deepEqual(subsetShardPaths(shardSetRange(dirs.shards, 'subset', plan.shards)).map((p) => readFileSync(p)), shards.map((p) => readFileSync(p)));
  });

  it('fail a group whose pool shard no longer holds a sample selected from it: the range would have a gap', async () => {
    const gone = join(dir, 'gone.jsonl');
    writeFileSync(gone, [JSON.stringify({ id: 'pool/p0s0', shard_id: poolShards[0].id }), JSON.stringify({ id: 'pool/p0s9', shard_id: poolShards[0].id })].join('\n'));
    const dirs = { shards: join(dir, 'gone'), groups: join(dir, 'gone-groups') };
    await planSubsetShardGroups(gone, poolShards, dirs, 3, 6);
    await assert.rejects(writeSubsetShardGroup(dirs.groups, 0, dirs.shards), (err: Error) => err instanceof RetrievalInputError && /found 1 of the 2 samples/.test(err.message));
  });

  it('grow past the group size where a selection would need more than MAX_PASS_ACTIVITIES groups', () => {
    const shard = (i: number) => ({ shard: { id: `s${i}`, source: 'pool', path: `/p/${i}.tar` } as ShardRef, ids: Array.from({ length: 10 }, (_, j) => `${i}/${j}`) });
    const selected = Array.from({ length: 3 * MAX_PASS_ACTIVITIES }, (_, i) => shard(i));
    const groups = subsetShardGroups(selected, 4, 1);
    assert.ok(groups.length <= MAX_PASS_ACTIVITIES, `${groups.length} groups`);
    assert.equal(groups.reduce((n, g) => n + g.samples, 0), 30 * MAX_PASS_ACTIVITIES);
    // Each group's shards follow the last group's: ceil(10 / 4) = 3 for a group of one pool shard.
    assert.deepEqual(subsetShardGroups(selected.slice(0, 3), 4, 1).map((g) => g.firstShard), [0, 3, 6]);
  });
});
