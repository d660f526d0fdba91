import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataDir } from '../../../lib/paths';
import { RunLayout, selectionFiles } from '../../../lib/run-layout';
import { scratchDir } from '../../../lib/storage/location';
import { overrideEnv } from '../../support/env';

// A worker whose data dir is /out, and which lets runs write to s3://bucket.
overrideEnv()({ SEPT_DATA_DIR: '/out', SEPT_BUCKETS: 's3://bucket' });

describe('the run layout', () => {
  const run = new RunLayout('/out', 'r');
  const job = run.trainerJob('random', 'pretrain');
  const cases: [string, string, string][] = [
    ['the run folder', run.dir, '/out/r'],
    ['a stage record', run.stageRecord('embed'), '/out/r/stages/embed.json'],
    ['the pool shard plan', run.poolShardPlan, '/out/r/embed-shards.jsonl'],
    ["the census's shard plan", run.censusShardPlan, '/out/r/census-shards.jsonl'],
    ['the selection folder', run.selection.dir, '/out/r/selection'],
    ['the target list', run.selection.targets, '/out/r/selection/targets.jsonl'],
    ["the pool's shards", run.selection.poolShardPlan, '/out/r/selection/pool-shards.jsonl'],
    ["the pool's shards, as 0.4.0 listed them", run.selection.poolShards, '/out/r/selection/pool-shards.json'],
    ["the merged chunks' leakage candidates", run.selection.leakage, '/out/r/selection/leakage'],
    ['the subset manifest', run.selection.manifest, '/out/r/selection/subset.jsonl'],
    ['the selection stats', run.selection.stats, '/out/r/selection/stats.json'],
    ['the contact sheet', run.selection.contactSheet, '/out/r/selection/contact-sheet.png'],
    ['the subset shards', run.selection.shards, '/out/r/selection/shards'],
    ["a pool sample's manifest", run.poolSample('encoder').manifest, '/out/r/samples/encoder/sample.jsonl'],
    ["a pool sample's shards", run.poolSample('encoder').shards, '/out/r/samples/encoder/shards'],
    ["a pool sample's shard plan", run.poolSample('encoder').poolShardPlan, '/out/r/samples/encoder/pool-shards.jsonl'],
    ["the target ids a pool sample excludes", run.poolSample('encoder').targetIds, '/out/r/samples/encoder/target-ids.jsonl'],
    ["a pool sample's page", run.poolSample('encoder').page(3), '/out/r/samples/encoder/pages/page-000003.jsonl'],
    ["a pool sample's copy groups", run.poolSample('encoder').groups, '/out/r/samples/encoder/groups'],
    ['the whole labeled target', run.labeledTarget('c0ffee').train(undefined), '/out/r/target/c0ffee/train'],
    ['a few labels per class', run.labeledTarget('c0ffee').train(5), '/out/r/target/c0ffee/train-5-per-class'],
    ['the labeled test set', run.labeledTarget('c0ffee').test, '/out/r/target/c0ffee/test'],
    ["the target's class indices", run.labeledTarget('c0ffee').classes, '/out/r/target/c0ffee/classes.json'],
    ['a trainer job', job.dir, '/out/r/train/random/pretrain'],
    ["a job's checkpoints", job.checkpoints, '/out/r/train/random/pretrain/checkpoints'],
    ["a job's events", job.events, '/out/r/train/random/pretrain/events.jsonl'],
    ["a job's trainer configuration", job.config('export'), '/out/r/train/random/pretrain/export.config.json'],
    ['the report', run.report.markdown, '/out/r/report.md'],
    ['the html report', run.report.html, '/out/r/report.html'],
    ["the report's figures", run.report.figures, '/out/r/figures'],
    ['the experiment results', run.experiment.markdown, '/out/r/experiment/results.md'],
    ['the experiment results as JSON', run.experiment.json, '/out/r/experiment/results.json'],
  ];
  for (const [what, path, expected] of cases) {
    it(`puts ${what} at ${expected}`, () => assert.equal(path, expected));
  }

  it('finds the selection files from the folder the selection plan carries', () => {
    assert.deepEqual(selectionFiles(run.selection.dir), run.selection);
  });

  it('resolves a relative output folder under the data dir', () => {
    assert.equal(new RunLayout('runs', 'r').stageRecord('select'), join(dataDir(), 'runs', 'r', 'stages', 'select.json'));
  });

  const keys: [string, string, string | undefined][] = [
    ['a file under the output folder', '/out/r/train/main/pretrain/checkpoints/checkpoint-00000005.pt', 'r/train/main/pretrain/checkpoints/checkpoint-00000005.pt'],
    ['any file of the output folder', '/out/r/selection/stats.json', 'r/selection/stats.json'],
    ["this run's trainer file written under another data dir", '/elsewhere/runs/r/train/main/finetune/metrics.json', 'r/train/main/finetune/metrics.json'],
    ["another run's trainer file written elsewhere", '/elsewhere/runs/other/train/main/finetune/metrics.json', undefined],
    ['a file outside every run', '/models/encoder.onnx', undefined],
  ];
  for (const [what, path, key] of keys) {
    it(`keys ${what} for the checkpoint mirror`, () => {
      assert.equal(run.keyOf(path), key);
      if (key) assert.equal(run.fileOf(key), join('/out', key), 'the key names the same file on this machine');
    });
  }
});

describe('the run layout in a bucket', () => {
  const run = new RunLayout('s3://bucket/runs/', 'r');

  it('puts every artifact under the prefix, in the layout of a local folder', () => {
    const local = new RunLayout('/out', 'r');
    const inBucket = (path: string) => path.replace(/^\/out\//, 's3://bucket/runs/');
    assert.equal(run.inBucket, true);
    assert.equal(local.inBucket, false);
    assert.equal(run.dir, 's3://bucket/runs/r');
    assert.equal(run.stageRecord('embed'), inBucket(local.stageRecord('embed')));
    assert.equal(run.poolShardPlan, inBucket(local.poolShardPlan));
    assert.deepEqual(run.report, { markdown: 's3://bucket/runs/r/report.md', html: 's3://bucket/runs/r/report.html', figures: 's3://bucket/runs/r/figures' });
    assert.deepEqual(run.selection, Object.fromEntries(Object.entries(local.selection).map(([k, v]) => [k, inBucket(v)])));
    assert.deepEqual(selectionFiles(run.selection.dir), run.selection, 'found again from the folder the selection plan carries');
    const { page, ...sampleFiles } = run.poolSample('encoder');
    const { page: localPage, ...localSampleFiles } = local.poolSample('encoder');
    assert.deepEqual(sampleFiles, Object.fromEntries(Object.entries(localSampleFiles).map(([k, v]) => [k, inBucket(v)])));
    assert.equal(page(0), inBucket(localPage(0)));
    assert.equal(run.labeledTarget('c0ffee').train(5), inBucket(local.labeledTarget('c0ffee').train(5)));
    assert.equal(run.labeledTarget('c0ffee').test, inBucket(local.labeledTarget('c0ffee').test));
    assert.equal(run.labeledTarget('c0ffee').classes, inBucket(local.labeledTarget('c0ffee').classes));
    const job = run.trainerJob('main', 'pretrain');
    assert.deepEqual([job.dir, job.checkpoints, job.events, job.config('pretrain')], ['', '/checkpoints', '/events.jsonl', '/pretrain.config.json'].map((f) => `s3://bucket/runs/r/train/main/pretrain${f}`));
    assert.deepEqual(run.experiment, { markdown: 's3://bucket/runs/r/experiment/results.md', json: 's3://bucket/runs/r/experiment/results.json' });
  });

  it("runs a trainer job in this worker's scratch folder, and keys its files as the bucket keeps them", () => {
    const job = run.localTrainerJob('main', 'pretrain');
    assert.ok(job.dir.startsWith(join(scratchDir(), 'outputs')), job.dir);
    assert.match(job.dir, /\/r\/train\/main\/pretrain$/);
    const checkpoint = join(job.checkpoints, 'checkpoint-00000005.pt');
    const key = 'r/train/main/pretrain/checkpoints/checkpoint-00000005.pt';
    assert.equal(run.keyOf(checkpoint), key);
    assert.equal(run.keyOf(`s3://bucket/runs/${key}`), key);
    assert.equal(run.keyOf('s3://bucket/other/r/x.pt'), undefined);
    assert.equal(run.locationOf(key), `s3://bucket/runs/${key}`);
    assert.equal(run.fileOf(key), checkpoint, 'the key names the same file in the scratch folder');
    assert.notEqual(new RunLayout('s3://bucket/other', 'r').localTrainerJob('main', 'pretrain').dir, job.dir, 'one scratch folder per output prefix');
    const local = new RunLayout('/out', 'r');
    assert.equal(local.localTrainerJob('main', 'pretrain').dir, local.trainerJob('main', 'pretrain').dir, 'a local run trains where its files are kept');
  });

  it('takes no other kind of URI', () => {
    assert.throws(() => new RunLayout('gs://bucket/runs', 'r'), /outputDir: gs:\/\/bucket\/runs: only local paths and s3:\/\/ URIs/);
  });
});
