// The run's first step refuses a target it could not train on, naming the setting: the label rules
// themselves are test/unit/lib/target/classes.test.ts; here, that they apply to every layout.
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunConfigInput } from '../../../../lib/config/schema';
import { parseRunConfig } from '../../../../lib/config/validate';
import { checkRunInputs } from '../../../../lib/pipeline/check-inputs';
import { writeShard } from '../../../../lib/webdataset';
import { grayPng, writeImageFolder } from '../../../support/image-folders';
import { tempDir } from '../../../support/tmp';

describe('checkRunInputs on labeled targets', () => {
  const dir = tempDir();
  let png: Buffer;
  before(async () => {
    png = await grayPng(64);
    await writeShard(join(dir, 'pool', 'pool-0.tar'), [{ key: 'p', files: { png } }]);
  });

  /** A folder source `<dir>/<name>/<class>/<i>.png`, n images of each class. */
  async function imageFolder(name: string, classes: string[], n: number) {
    await writeImageFolder(join(dir, name), Object.fromEntries(classes.map((c) => [c, n])));
    return { kind: 'folder', name, path: join(dir, name) } as const;
  }

  const check = (target: RunConfigInput['target'], extra: Partial<RunConfigInput> = {}) =>
    checkRunInputs(parseRunConfig({ name: 'check', outputDir: join(dir, 'runs'), pool: { sources: [{ kind: 'webdataset', shards: join(dir, 'pool') }] }, target, ...extra }));

  it('a few-shot target of class-name folders passes with the default batch size; a set one larger than it fails', async () => {
    const target = { train: await imageFolder('train', ['sandal', 'bag'], 3), test: await imageFolder('test', ['sandal', 'bag'], 2) };
    const { content: _content, ...counts } = await check(target);
    assert.deepEqual(counts, { poolShards: 1, targetTrain: 6, targetTest: 4 });
    await check(target, { finetune: { batchSize: 6 } });
    await assert.rejects(check(target, { finetune: { batchSize: 7 } }), /finetune\.batchSize: 7 is larger than the 6 labeled images of target\.train: /);
    await assert.rejects(
      check({ ...target, labelsPerClass: 2 }, { finetune: { batchSize: 5 } }),
      /finetune\.batchSize: 5 is larger than the 4 labeled images of target\.train \(target\.labelsPerClass: 2\)/,
    );
  });

  it("reports what the inputs hold, from their listings: an image replaced in place, or one added, changes its input's fingerprint alone", async () => {
    const target = { train: await imageFolder('train4', ['sandal', 'bag'], 2), test: await imageFolder('test4', ['sandal', 'bag'], 1) };
    const { content } = await check(target);
    assert.deepEqual((await check(target)).content, content, 'listed again, unchanged');

    const image = join(dir, 'train4', 'bag', '0.png');
    writeFileSync(image, await grayPng(200));
    utimesSync(image, 5000, 5000);
    const replaced = (await check(target)).content;
    assert.deepEqual(replaced, { ...content, targetTrain: replaced.targetTrain });
    assert.notEqual(replaced.targetTrain, content.targetTrain);

    writeFileSync(join(dir, 'test4', 'bag', '1.png'), png);
    const added = (await check(target)).content;
    assert.deepEqual(added, { ...replaced, targetTest: added.targetTest });
    assert.notEqual(added.targetTest, replaced.targetTest);
  });

  it('a test class that train has not', async () => {
    const target = { train: await imageFolder('train2', ['sandal', 'bag'], 1), test: await imageFolder('test2', ['sandal', 'bag', 'zebra'], 1) };
    await assert.rejects(check(target), /target\.test: has images of class zebra, which target\.train has not/);
  });

  it('an empty .cls member', async () => {
    await writeShard(join(dir, 'cls', 'train-0.tar'), [
      { key: 'a', files: { png, cls: Buffer.from('1') } },
      { key: 'b', files: { png, cls: Buffer.from('') } },
    ]);
    const target = { train: { kind: 'webdataset', name: 'cls', shards: join(dir, 'cls') }, test: { kind: 'webdataset', name: 'cls', shards: join(dir, 'cls') } } as const;
    await assert.rejects(check(target), /target\.train: sample cls\/b has an empty class label/);
  });

  it('a target without labels', async () => {
    const target = { train: { kind: 'webdataset', shards: join(dir, 'pool') }, test: await imageFolder('test3', ['a', 'b'], 1) } as const;
    await assert.rejects(check(target), /target\.train: no image has a class label: give one subfolder per class/);
  });
});
