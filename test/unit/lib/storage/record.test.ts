// Records read back (a stage's result, the pool's shard plan): one torn by a crash reads as absent,
// with a warning that names it, and its work is done again; it never fails every later run.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseRunConfig } from '../../../../lib/config/validate';
import { readShardPlanPage } from '../../../../lib/embed/shard-plan';
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
});
