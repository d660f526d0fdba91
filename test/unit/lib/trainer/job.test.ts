import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunConfigInput } from '../../../../lib/config/schema';
import { parseRunConfig } from '../../../../lib/config/validate';
import { RunLayout } from '../../../../lib/run-layout';
import { prepareLabeledSet } from '../../../../lib/target/labeled-subset';
import { prepareTrainerJob, type TrainerTask } from '../../../../lib/trainer/job';
import { writeImageFolder } from '../../../support/image-folders';
import { tempDir } from '../../../support/tmp';

const quiet = { debug() {}, info() {}, warn() {} };

/** A target of class-name folders, 3 train and 2 test images of each of 2 classes. */
async function folderTarget(dir: string, extra: Partial<RunConfigInput> = {}) {
  await writeImageFolder(join(dir, 'train'), { sandal: 3, bag: 3 });
  await writeImageFolder(join(dir, 'test'), { sandal: 2, bag: 2 });
  const target = { train: { kind: 'folder', name: 'train', path: join(dir, 'train') }, test: { kind: 'folder', name: 'test', path: join(dir, 'test') } } as const;
  return parseRunConfig({ demo: true, name: 'job', outputDir: join(dir, 'runs'), target, ...extra });
}

/** The trainer configuration a job writes. */
async function trainerConfig(task: Omit<TrainerTask, 'train' | 'numClasses'>): Promise<Record<string, unknown>> {
  const labeled = await prepareLabeledSet(task.config);
  const job = await prepareTrainerJob({ ...task, train: [labeled.source], numClasses: labeled.numClasses }, quiet);
  return JSON.parse(readFileSync(job.configFile, 'utf8')) as Record<string, unknown>;
}

describe('the data a trainer job is given', () => {
  it('evaluates a folder target on its labeled test set, written as shards like the train set', async () => {
    const config = await folderTarget(tempDir());
    const evaluate = await trainerConfig({ config, stage: 'evaluate', job: 'evaluate', test: [config.target.test] });
    const layout = new RunLayout(config.outputDir, config.name);
    const [content] = readdirSync(join(layout.dir, 'target'));
    assert.deepEqual(evaluate.train_shards, [join(layout.labeledTarget(content).train(undefined), 'shard-000000.tar')]);
    assert.deepEqual(evaluate.test_shards, [join(layout.labeledTarget(content).test, 'shard-000000.tar')]);
    // Where a shard is on this machine may differ on the next; its location and version do not.
    for (const key of ['train', 'test']) {
      const ids = evaluate[`${key}_shard_ids`] as string[];
      assert.deepEqual(ids.map((id) => id.split('#')[0]), evaluate[`${key}_shards`]);
      assert.ok(ids.every((id) => /#\d+-[\d.]+$/.test(id)), `versioned: ${ids.join()}`);
    }
    assert.equal(evaluate.num_classes, 2);
  });

  it('fine-tunes a few-shot target on all its images per step unless a batch size is set', async () => {
    const unset = await folderTarget(tempDir());
    assert.equal((await trainerConfig({ config: unset, stage: 'finetune', job: 'finetune' })).batch_size, 6);
    const set = await folderTarget(tempDir(), { finetune: { batchSize: 4 } });
    assert.equal((await trainerConfig({ config: set, stage: 'finetune', job: 'finetune' })).batch_size, 4);
  });
});
