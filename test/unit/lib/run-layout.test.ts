import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataDir } from '../../../lib/paths';
import { RunLayout, selectionFiles } from '../../../lib/run-layout';

describe('the run layout', () => {
  const run = new RunLayout('/out', 'r');
  const job = run.trainerJob('random', 'pretrain');
  const cases: [string, string, string][] = [
    ['the run folder', run.dir, '/out/r'],
    ['a stage record', run.stageRecord('embed'), '/out/r/stages/embed.json'],
    ['the pool shard plan', run.poolShardPlan, '/out/r/embed-shards.jsonl'],
    ['the selection folder', run.selection.dir, '/out/r/selection'],
    ['the target list', run.selection.targets, '/out/r/selection/targets.jsonl'],
    ["the pool's shards", run.selection.poolShards, '/out/r/selection/pool-shards.json'],
    ['the subset manifest', run.selection.manifest, '/out/r/selection/subset.jsonl'],
    ['the selection stats', run.selection.stats, '/out/r/selection/stats.json'],
    ['the contact sheet', run.selection.contactSheet, '/out/r/selection/contact-sheet.png'],
    ['the subset shards', run.selection.shards, '/out/r/selection/shards'],
    ["a pool sample's manifest", run.poolSample('encoder').manifest, '/out/r/samples/encoder/sample.jsonl'],
    ["a pool sample's shards", run.poolSample('encoder').shards, '/out/r/samples/encoder/shards'],
    ['the whole labeled target', run.labeledTarget(undefined), '/out/r/target/train'],
    ['a few labels per class', run.labeledTarget(5), '/out/r/target/train-5-per-class'],
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
