import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type Census, countCensusPage, foldCensusPages, takeCensus } from '../../../../lib/sources/census';
import { PASS_PAGE_SHARDS, passPages } from '../../../../lib/sources/pass-pages';
import { MAX_PASS_ACTIVITIES } from '../../../../lib/config/work-limits';
import { planShards, readShardPlanPage, writeShardPlan } from '../../../../lib/embed/shard-plan';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { writeTestPools, type TestPools } from '../../../support/pools';
import { join } from 'node:path';
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

  it('counts a pool read from its shard plan page by page as from its listing', async () => {
    const sources = [pools.webdataset, pools.folder, pools.manifest];
    const plan = await writeShardPlan(sources, join(dir, 'census-shards.jsonl'));
    assert.deepEqual(await takeCensus(planShards(plan, 2)), await takeCensus(await listAllShards(sources)));
  });

  it('counts a plan page by page, each page into a file, folded into the census of one count: labels in full or past the bound', async () => {
    const sources = [pools.webdataset, pools.folder, pools.manifest];
    const plan = await writeShardPlan(sources, join(dir, 'paged-shards.jsonl'));
    // Room for three one-character labels: the bound is reached in the second source.
    for (const maxLabelBytes of [undefined, 3 * 17]) {
      const whole = await takeCensus(planShards(plan), undefined, maxLabelBytes);
      for (const pageShards of [1, 2, 3, plan.total]) {
        const pages = Math.ceil(plan.total / pageShards);
        const files = Array.from({ length: pages }, (_, p) => join(dir, `pages-${pageShards}`, `page-${p}.jsonl`));
        let samples = 0;
        for (const [p, file] of files.entries()) samples += (await countCensusPage(await readShardPlanPage(plan, p * pageShards, pageShards), file)).samples;
        assert.equal(samples, whole.total);
        assert.deepEqual(await foldCensusPages(files, maxLabelBytes), whole, `pages of ${pageShards} shards, labels up to ${maxLabelBytes ?? 'the default'} bytes`);
      }
    }
    assert.ok((await takeCensus(planShards(plan), undefined, 3 * 17)).sources.pool.otherLabels, 'the bound was reached');
  });

  it('pages a plan by a few shards, in at most MAX_PASS_ACTIVITIES pages', () => {
    assert.deepEqual(passPages(11), { count: Math.ceil(11 / PASS_PAGE_SHARDS), shards: PASS_PAGE_SHARDS });
    assert.deepEqual(passPages(0), { count: 0, shards: PASS_PAGE_SHARDS });
    for (const total of [MAX_PASS_ACTIVITIES * PASS_PAGE_SHARDS + 1, 1_000_003]) {
      const pages = passPages(total);
      assert.ok(pages.count <= MAX_PASS_ACTIVITIES && pages.count * pages.shards >= total && (pages.count - 1) * pages.shards < total, JSON.stringify(pages));
    }
  });

  it('lists labels up to its bound in bytes, and counts the samples of further labels as other labels', async () => {
    const shards = await listAllShards([pools.webdataset]);
    // Room for two one-character labels (each listed with its quotes and count).
    const { tars } = (await takeCensus(shards, undefined, 2 * 17)).sources;
    assert.equal(Object.keys(tars.perLabel).length, 2);
    assert.ok((tars.otherLabels ?? 0) >= 1, JSON.stringify(tars));
    const listed = Object.values(tars.perLabel).reduce((a, b) => a + b, 0);
    assert.equal(listed + tars.unlabeled + tars.otherLabels!, tars.samples);
  });
});
