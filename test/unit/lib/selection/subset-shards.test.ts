// Subset shards (a selection's, a random pool sample's) travel as one brace range, whatever their count.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { SourceSpec } from '../../../../lib/config/sources';
import { writeRandomPoolSample } from '../../../../lib/selection/random-sample';
import { subsetShardPaths } from '../../../../lib/selection/subset-shards';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { sourceSamples } from '../../../../lib/sources/samples';
import type { ShardRef } from '../../../../lib/sources/shard-ref';
import { shardSetRange } from '../../../../lib/webdataset/writer';
import { writeTestPools } from '../../../support/pools';
import { tempDir } from '../../../support/tmp';

describe('subset shards by reference', () => {
  const dir = tempDir();
  let poolShards: ShardRef[];
  before(async () => {
    const pools = await writeTestPools(dir);
    poolShards = await listAllShards([pools.webdataset, pools.folder]);
  });

  it('name a numbered set as one brace range, of the same few bytes whatever the count', () => {
    assert.equal(shardSetRange('/out/r/selection/shards', 'subset', 1), '/out/r/selection/shards/subset-{000000..000000}.tar');
    assert.equal(shardSetRange('s3://bucket/r/shards', 'subset', 123_457), 's3://bucket/r/shards/subset-{000000..123456}.tar');
    assert.throws(() => shardSetRange('/out', 'subset', 0), /at least one shard/);
    assert.deepEqual(subsetShardPaths('/o/subset-{000000..000002}.tar'), ['/o/subset-000000.tar', '/o/subset-000001.tar', '/o/subset-000002.tar']);
    assert.deepEqual(subsetShardPaths(['/o/subset-000000.tar']), ['/o/subset-000000.tar'], 'a list, as results of 0.4.0 hold');
  });

  it('a random pool sample comes back as a range that a webdataset source lists to the shards written', async () => {
    const files = { manifest: join(dir, 'sample', 'sample.jsonl'), shards: join(dir, 'sample', 'shards') };
    const sample = await writeRandomPoolSample({ poolShards, size: 5, seed: 1, exclude: new Set(), files, shardSize: 2 });
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
    const files = { manifest: join(dir, 'empty', 'sample.jsonl'), shards: join(dir, 'empty', 'shards') };
    const sample = await writeRandomPoolSample({ poolShards, size: 0, seed: 1, exclude: new Set(), files, shardSize: 2 });
    assert.deepEqual(sample.shards, []);
    assert.equal(sample.samples, 0);
  });
});
