import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type Census, takeCensus } from '../../../../lib/sources/census';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { writeTestPools, type TestPools } from '../../../support/pools';
import { tempDir } from '../../../support/tmp';

describe('the census', () => {
  const dir = tempDir();
  let pools: TestPools;
  before(async () => {
    pools = await writeTestPools(dir);
  });

  const cases: { kind: 'webdataset' | 'folder' | 'manifest'; source: string; expect: Census['sources'][string] }[] = [
    // The sample without an image member is still a sample of the pool.
    { kind: 'webdataset', source: 'tars', expect: { samples: 5, unlabeled: 1, perLabel: { 0: 1, 1: 2, 2: 1 } } },
    { kind: 'folder', source: 'photos', expect: { samples: 4, unlabeled: 1, perLabel: { cat: 2, dog: 1 } } },
    // So is the line whose image file is missing: the census counts what the sources list.
    { kind: 'manifest', source: 'pool', expect: { samples: 4, unlabeled: 1, perLabel: { 1: 2, x: 1 } } },
  ];
  for (const c of cases) {
    it(`counts a ${c.kind} pool's samples per label`, async () => {
      const shards = await listAllShards([pools[c.kind]]);
      const done: number[] = [];
      assert.deepEqual(await takeCensus(shards, (n) => done.push(n)), { total: c.expect.samples, sources: { [c.source]: c.expect } });
      assert.deepEqual(done, shards.map((_, i) => i + 1), 'reports every shard done');
    });
  }

  it('counts a pool of every kind at once, per source', async () => {
    const census = await takeCensus(await listAllShards([pools.webdataset, pools.folder, pools.manifest]));
    assert.equal(census.total, 13);
    assert.deepEqual(Object.keys(census.sources), ['tars', 'photos', 'pool']);
  });
});
