// Records read back (a stage's result, the pool's shard plan): one torn by a crash reads as absent,
// with a warning that names it, and its work is done again; it never fails every later run.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseRunConfig } from '../../../../lib/config/validate';
import { planShards, readShardPlanPage, writeShardPlan } from '../../../../lib/embed/shard-plan';
import type { SourceSpec } from '../../../../lib/config/sources';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { log } from '../../../../lib/log';
import { readStageRecord, writeStageRecord } from '../../../../lib/pipeline/stage-record';
import { RunLayout } from '../../../../lib/run-layout';
import { writeLocation } from '../../../../lib/storage/location';
import { tempDir } from '../../../support/tmp';

/** The warnings logged while the test runs, as their messages. */
function warnings(t: TestContext): string[] {
  const messages: string[] = [];
  t.mock.method(log, 'warn', (_fields: object, message: string) => void messages.push(message));
  return messages;
}

const TORN = {
  'cut short': '{\n  "key": "0123456789abcdef",\n  "result": { "shards": 1',
  empty: '',
  'not an object': '[1, 2, 3]',
  'without its result': '{ "key": "0123456789abcdef" }',
};

describe('a stage record', () => {
  const config = parseRunConfig({ demo: true, name: 'records', outputDir: tempDir() });
  const file = new RunLayout(config.outputDir, config.name).stageRecord('embed');
  mkdirSync(dirname(file), { recursive: true });

  for (const [how, text] of Object.entries(TORN)) {
    it(`torn (${how}) reads as absent, with a warning naming it, and is written again whole`, async (t) => {
      const warned = warnings(t);
      writeFileSync(file, text);
      assert.equal(await readStageRecord(config, 'embed', '0123456789abcdef'), undefined);
      assert.equal(warned.length, 1);
      assert.ok(warned[0].includes(file) && /torn or unreadable/.test(warned[0]), warned[0]);

      await writeStageRecord(config, 'embed', '0123456789abcdef', { shards: 1 });
      assert.deepEqual(await readStageRecord(config, 'embed', '0123456789abcdef'), { shards: 1 });
      assert.equal(warned.length, 1);
    });
  }

  it('of other inputs, or none at all, is absent without a warning', async (t) => {
    const warned = warnings(t);
    await writeStageRecord(config, 'select', 'aaaaaaaaaaaaaaaa', { subset: 10 });
    assert.equal(await readStageRecord(config, 'select', 'bbbbbbbbbbbbbbbb'), undefined);
    assert.equal(await readStageRecord(config, 'pretrain', 'aaaaaaaaaaaaaaaa'), undefined);
    assert.deepEqual(warned, []);
  });
});

describe("the pool's shard plan", () => {
  const shards = Array.from({ length: 5 }, (_, i) => ({ id: `pool/${i}`, source: 'pool', path: `/pool/${i}.tar`, version: `v${i}` }));
  const text = shards.map((s) => `${JSON.stringify(s)}\n`).join('');

  it('is read by pages', async () => {
    const path = join(tempDir(), 'shards.jsonl');
    await writeLocation(path, text);
    assert.deepEqual(await readShardPlanPage({ path, total: 5 }, 3, 2), shards.slice(3));
  });

  for (const [how, torn] of Object.entries({ 'cut short': text.slice(0, text.length - 20), 'garbled in its page': text.replace('"pool/1"', '"pool/1') })) {
    it(`torn (${how}) fails its reader with a warning naming it: the next run lists the pool again`, async (t) => {
      const warned = warnings(t);
      const path = join(tempDir(), 'shards.jsonl');
      writeFileSync(path, torn);
      await assert.rejects(readShardPlanPage({ path, total: 5 }, 0, 2), /shard plan .* is gone or torn: start the run again/);
      assert.equal(warned.length, 1);
      assert.ok(warned[0].includes(path), warned[0]);
    });
  }

  describe('listed with its offsets beside it', () => {
    /** A pool of `count` empty shards, listed as a plan: the listing reads names and sizes only. */
    async function listedPool(count: number): Promise<{ path: string; source: SourceSpec }> {
      const dir = tempDir();
      mkdirSync(join(dir, 'pool'));
      for (let i = 0; i < count; i++) writeFileSync(join(dir, 'pool', `pool-${String(i).padStart(3, '0')}.tar`), '');
      return { path: join(dir, 'embed-shards.jsonl'), source: { kind: 'webdataset', name: 'pool', shards: join(dir, 'pool') } };
    }

    it('is read by pages, each from its own bytes: the rest of the plan is never read', async () => {
      const { path, source } = await listedPool(25);
      const plan = await writeShardPlan([source], path);
      const listed = await listAllShards([source]);
      assert.deepEqual({ total: plan.total, bytes: plan.bytes }, { total: 25, bytes: readFileSync(path).length });
      const pages = [];
      for (let offset = 0; offset < plan.total; offset += 4) pages.push(...(await readShardPlanPage(plan, offset, 4)));
      assert.deepEqual(pages, listed);
      const streamed = [];
      for await (const shard of planShards(plan, 7)) streamed.push(shard);
      assert.deepEqual(streamed, listed);

      // Every byte outside shards 10 to 13 overwritten, the plan's size kept: that page still reads.
      const text = readFileSync(path, 'utf8');
      const [from, to] = [10, 14].map((i) => text.split('\n').slice(0, i).join('\n').length + (i > 0 ? 1 : 0));
      writeFileSync(path, 'x'.repeat(from) + text.slice(from, to) + 'x'.repeat(text.length - to));
      assert.deepEqual(await readShardPlanPage(plan, 10, 4), listed.slice(10, 14));
      assert.deepEqual(await readShardPlanPage({ path, total: 25 }, 10, 4).catch((err: Error) => err.message), `the pool's shard plan ${path} is gone or torn: start the run again to list the pool anew`, 'read whole, it is torn');
    });

    const TORN_WITH_OFFSETS: Record<string, (path: string) => Promise<void> | void> = {
      'the plan cut short': (path) => truncateSync(path, readFileSync(path).length - 20),
      'its offsets cut short': (path) => truncateSync(`${path}.offsets`, 20),
      'the plan listed anew with fewer shards': async (path) => {
        const shorter = await listedPool(3);
        await writeShardPlan([shorter.source], path);
      },
    };
    for (const [how, tear] of Object.entries(TORN_WITH_OFFSETS)) {
      it(`torn (${how}) fails its reader with a warning naming the plan: the next run lists the pool again`, async (t) => {
        const { path, source } = await listedPool(6);
        const plan = await writeShardPlan([source], path);
        await tear(path);
        const warned = warnings(t);
        await assert.rejects(readShardPlanPage(plan, 0, 2), /shard plan .* is gone or torn: start the run again/);
        assert.equal(warned.length, 1);
        assert.ok(warned[0].includes(path), warned[0]);
      });
    }

    it('without its offsets (gone) fails its reader as a plan gone', async (t) => {
      const { path, source } = await listedPool(6);
      const plan = await writeShardPlan([source], path);
      rmSync(`${path}.offsets`);
      const warned = warnings(t);
      await assert.rejects(readShardPlanPage(plan, 2, 2), /shard plan .* is gone or torn: start the run again/);
      assert.deepEqual(warned, []);
    });

    it('is read whole by an execution that carries it without its size, as plans of 0.4.0 are', async () => {
      const { path, source } = await listedPool(6);
      const { total } = await writeShardPlan([source], path);
      assert.deepEqual(await readShardPlanPage({ path, total }, 4, 5), (await listAllShards([source])).slice(4));
    });
  });
});
