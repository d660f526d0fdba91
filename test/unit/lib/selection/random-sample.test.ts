// A random pool sample drawn page by page of the pool's shard plan, then folded, is the sample one
// pass over the whole pool drew (the single samplePool activity of 0.4.0): same images, same manifest bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { SourceSpec } from '../../../../lib/config/sources';
import { RunLayout } from '../../../../lib/run-layout';
import type { PassPages } from '../../../../lib/sources/pass-pages';
import { foldPoolSample, planPoolSample, type SampleCopy, samplePoolPage, writePoolSampleGroup, writeRandomPoolSample } from '../../../../lib/selection/random-sample';
import { subsetShardPaths } from '../../../../lib/selection/subset-shards';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { sourceSamples } from '../../../../lib/sources/samples';
import { readShard } from '../../../../lib/webdataset/reader';
import { writeShard } from '../../../../lib/webdataset/writer';
import { writeTestPools } from '../../../support/pools';
import { tempDir } from '../../../support/tmp';

/** The sample by definition: every image of the pool but the excluded, ranked by seed and id, the `size` lowest. */
async function oracle(sources: SourceSpec[], size: number, seed: number, exclude: Set<string>): Promise<string> {
  const all: { rank: bigint; id: string; shard_id: string }[] = [];
  for (const shard of await listAllShards(sources)) {
    for await (const { id, image } of sourceSamples(shard)) {
      if (image && !exclude.has(id)) all.push({ rank: createHash('sha1').update(`${seed}\0${id}`).digest().readBigUInt64BE(0), id, shard_id: shard.id });
    }
  }
  all.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  return all.slice(0, size).map(({ id, shard_id }) => JSON.stringify({ id, shard_id })).join('\n') + '\n';
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Its shards' samples' ids, in order. */
async function idsInShards(shards: string | []): Promise<string[]> {
  const ids: string[] = [];
  for (const shard of subsetShardPaths(shards)) for await (const s of readShard(shard)) ids.push((JSON.parse(s.files.json.toString('utf8')) as { id: string }).id);
  return ids;
}

describe('a random pool sample drawn page by page', () => {
  const dir = tempDir();
  const layout = new RunLayout(dir, 'r');
  const copy: SampleCopy = { shardSize: 4, groupSamples: 20 };
  const excluded = ['many/m0x0', 'many/m3x5', 'tars/s1', 'photos/cat/a'];
  let sources: SourceSpec[];
  before(async () => {
    // 14 pool shards of three kinds, 128 images, a few samples without one.
    const pools = await writeTestPools(dir);
    for (let p = 0; p < 9; p++) {
      const samples = Array.from({ length: 13 }, (_, i) => ({ key: `m${p}x${i}`, files: { png: pools.png, json: Buffer.from(JSON.stringify({ label: i % 3 })) } }));
      await writeShard(join(dir, 'many', `many-${p}.tar`), samples);
    }
    sources = [pools.webdataset, pools.folder, pools.manifest, { kind: 'webdataset', name: 'many', shards: join(dir, 'many') }];
  });

  // Drawn by the single samplePool activity before it was paged, on the same pool.
  const drawnInOnePass = [
    { seed: 0, size: 1, exclude: false, samples: 1, perSource: { many: 1 }, sha256: '63fedce33c1ef43462fb2ed3437e5669326544e4beef18a6f029ee2d5a41b0de' },
    { seed: 1, size: 7, exclude: false, samples: 7, perSource: { pool: 1, many: 6 }, sha256: '5cd83d9f39404cf544a6f46c5ffd26a24363babb32812d125171a20bb0b05993' },
    { seed: 2, size: 40, exclude: false, samples: 40, perSource: { many: 38, tars: 2 }, sha256: '5eb82141d91e5b120fb8a4a6780bca494f010a39d939ade51fc599c56313cf53' },
    { seed: 3, size: 40, exclude: true, samples: 40, perSource: { many: 39, photos: 1 }, sha256: '2b35261379a36e4e563a63011139a5b18869c319ecff2e3282ca6f0e2183167d' },
    { seed: 4, size: 500, exclude: false, samples: 128, perSource: { many: 117, tars: 4, pool: 3, photos: 4 }, sha256: 'ad6f506a4715bf4e6ae3803dead25f4c7160d9edb82c5bd54fb11f0d8c4fd490' },
  ];

  for (const want of drawnInOnePass) {
    it(`draws the sample one pass drew: seed ${want.seed}, size ${want.size}${want.exclude ? ', the target excluded' : ''}`, async () => {
      const files = layout.poolSample(`s${want.seed}`);
      const exclude = want.exclude ? excluded : [];
      const sample = await writeRandomPoolSample({ sources, targetIds: exclude, draw: { size: want.size, seed: want.seed }, files, copy });
      const manifest = readFileSync(files.manifest);
      assert.equal(sha256(manifest), want.sha256, 'the same manifest bytes');
      assert.equal(manifest.toString('utf8'), await oracle(sources, want.size, want.seed, new Set(exclude)));
      assert.equal(sample.samples, want.samples);
      assert.deepEqual(sample.perSource, want.perSource);
      const ids = manifest.toString('utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
      assert.deepEqual((await idsInShards(sample.shards)).sort(), ids.sort(), 'its shards hold the manifest, each image once');
      for (const id of exclude) assert.ok(!ids.includes(id), `${id} is the target's`);
    });
  }

  it('folds to the same sample whatever the pages, and keeps no more than the sample a page', async () => {
    const plan = await planPoolSample(sources, excluded, layout.poolSample('pages'));
    assert.equal(plan.total, 14);
    for (const [seed, size] of [[5, 3], [6, 30], [7, 200]]) {
      const want = await oracle(sources, size, seed, new Set(excluded));
      for (const shards of [1, 3, 14]) {
        const files = layout.poolSample(`pages-${seed}-${shards}`);
        await planPoolSample(sources, excluded, files);
        const pages: PassPages = { count: Math.ceil(plan.total / shards), shards };
        let offered = 0;
        for (let page = 0; page < pages.count; page++) {
          const { samples } = await samplePoolPage(plan, pages, page, { size, seed }, files);
          const lines = readFileSync(files.page(page), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; rank: string });
          assert.equal(lines.length, samples);
          assert.ok(samples <= size);
          assert.ok(lines.every((l, i) => i === 0 || BigInt(lines[i - 1].rank) <= BigInt(l.rank)), 'a page in rank order, its rank a decimal string');
          offered += samples;
        }
        const { sample, groups } = await foldPoolSample(plan, pages, size, files, copy);
        assert.equal(readFileSync(files.manifest, 'utf8'), want, `seed ${seed}, size ${size}, pages of ${shards} shards`);
        assert.equal(sample.samples, Math.min(size, offered));
        assert.equal(existsSync(files.pages), false, "the pages' files are removed once folded");
        // A retried fold, the pages gone: the recorded result, the manifest as it was.
        assert.deepEqual(await foldPoolSample(plan, pages, size, files, copy), { sample, groups });
        assert.equal(readFileSync(files.manifest, 'utf8'), want);
        // Copied group by group, in any order: the same images.
        for (let group = groups - 1; group >= 0; group--) await writePoolSampleGroup(files, group);
        const ids = want.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
        assert.deepEqual((await idsInShards(sample.shards)).sort(), ids.sort());
      }
    }
  });

  it('folds pages longer than one read, in rank order, equal ranks in page order', async () => {
    // Three pages of 3,000 lines each (far more than one read of a page), ids of two-byte characters, many ranks shared.
    const pages = { count: 3, shards: 5 };
    const byRank = (a: { rank: bigint }, b: { rank: bigint }) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0);
    const pageLines = Array.from({ length: pages.count }, (_, page) =>
      Array.from({ length: 3000 }, (_, i) => ({ rank: BigInt((i * 7919 + page * 31) % 2000) * 1_000_000_007n, id: `pool/é-${page}-${i}`, shard_id: `pool/${page}` })).sort(byRank),
    );
    const all = pageLines.flat().sort(byRank);
    for (const size of [1, 2999, 7000, 9000, 12000]) {
      const files = layout.poolSample(`long-${size}`);
      const plan = await planPoolSample(sources, [], files);
      pageLines.forEach((lines, page) => {
        mkdirSync(dirname(files.page(page)), { recursive: true });
        writeFileSync(files.page(page), lines.map((l) => `${JSON.stringify({ id: l.id, shard_id: l.shard_id, rank: l.rank.toString() })}\n`).join(''));
      });
      await foldPoolSample(plan, pages, size, files, copy);
      const want = all.slice(0, size).map(({ id, shard_id }) => JSON.stringify({ id, shard_id })).join('\n') + '\n';
      assert.equal(readFileSync(files.manifest, 'utf8'), want, `size ${size}`);
    }
  });

  it('excludes the target, and still draws the size asked', async () => {
    const files = layout.poolSample('exclusions');
    const all = await writeRandomPoolSample({ sources, targetIds: [], draw: { size: 10, seed: 9 }, files, copy });
    const first = readFileSync(files.manifest, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    const target = first.slice(0, 4);
    const sample = await writeRandomPoolSample({ sources, targetIds: target, draw: { size: 10, seed: 9 }, files, copy });
    const ids = readFileSync(files.manifest, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    assert.equal(all.samples, 10);
    assert.equal(sample.samples, 10);
    assert.deepEqual(ids.slice(0, 6), first.slice(4), 'the next lowest ranks take their places');
    assert.ok(target.every((id) => !ids.includes(id)));
  });
});
