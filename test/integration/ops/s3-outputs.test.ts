// A run's outputs in a bucket (moto's server): one "worker" writes stage records, the pool's shard
// plan and the report; another, with its own empty data dir and cache, reads them. Neither writes
// anything on its disk but its cache. A whole septPipeline run whose pool, target, encoder, store
// and outputs are all in the bucket, on worker processes that share nothing else, is
// test/integration/pipeline/shared-nothing.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startS3Server, type S3Server } from '../../../infra/s3-server';
import { parseRunConfig } from '../../../lib/config/validate';
import { readShardPlanPage, writeShardPlan } from '../../../lib/embed/shard-plan';
import { exportedEncoderConfig } from '../../../lib/encoder/exported';
import { checkRunInputs } from '../../../lib/pipeline/check-inputs';
import { readStageRecord, writeStageRecord } from '../../../lib/pipeline/stage-record';
import { writeRunReport } from '../../../lib/report/run-report';
import type { RunReportInput } from '../../../lib/report/types';
import { RunLayout } from '../../../lib/run-layout';
import { deleteLocation, listLocation, locationExists, locationIn, readLocation, readLocationText, writeLocation } from '../../../lib/storage/location';
import { CheckpointMirror, checkpointKeys, localCheckpoint } from '../../../lib/trainer/checkpoint-mirror';
import { latestCheckpoint } from '../../../lib/trainer/checkpoints';
import { writeShard } from '../../../lib/webdataset';
import { overrideEnv } from '../../support/env';
import { listKeys } from '../../support/s3';
import { filesUnder, tempDir } from '../../support/tmp';

const BUCKET = 'septflow-outputs';

describe('run outputs in a bucket', () => {
  const dir = tempDir('septflow-s3-outputs-');
  const workers = { a: join(dir, 'worker-a'), b: join(dir, 'worker-b') };
  let s3: S3Server;
  const setEnv = overrideEnv();
  /** What this process does next, it does as a worker with its own data dir and cache under `root`, which reads the pool where it is. */
  const asWorker = (root: string) => setEnv({ SEPT_DATA_DIR: join(root, 'data'), SEPT_CACHE_DIR: join(root, 'cache'), SEPT_READ_ROOTS: join(dir, 'pool') });

  before(async () => {
    s3 = await startS3Server({ logFile: join(dir, 'moto.log') });
    await s3.createBucket(BUCKET);
    setEnv(s3.env);
  });
  after(() => s3?.stop());

  it('writes stage records, the shard plan and the report on one worker and reads them on another, at their latest version', async () => {
    const pool = join(dir, 'pool');
    for (let i = 0; i < 3; i++) await writeShard(join(pool, `pool-${i}.tar`), [{ key: `k${i}`, files: { json: Buffer.from('{}') } }]);
    const config = parseRunConfig({ name: 'bucket-run', outputDir: `s3://${BUCKET}/runs`, pool: { sources: [{ kind: 'webdataset', name: 'pool', shards: pool }] }, target: { preset: 'mnist' } });
    const run = new RunLayout(config.outputDir, config.name);
    const uri = (key: string) => `s3://${BUCKET}/runs/bucket-run/${key}`;

    asWorker(workers.a);
    await writeStageRecord(config, 'select', 'key-1', { subset: 100 });
    const plan = await writeShardPlan(config.pool.sources, run.poolShardPlan);
    assert.deepEqual(plan, { path: uri('embed-shards.jsonl'), total: 3, bytes: (await readLocation(uri('embed-shards.jsonl')))!.length });
    // What the training stages would have left for the report: a trainer's events and a contact sheet.
    const events = locationIn(run.dir, 'train', 'main', 'pretrain', 'events.jsonl');
    await writeLocation(events, [10, 20].map((step) => JSON.stringify({ event: 'progress', step, loss: 1 / step, attempt: 1 })).join('\n'));
    const sheet = uri('selection/contact-sheet.png');
    await writeLocation(sheet, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const report = await writeRunReport(reportInput(run, config, events, sheet));
    assert.equal(report.markdown, uri('report.md'));

    asWorker(workers.b);
    assert.deepEqual(await readStageRecord(config, 'select', 'key-1'), { subset: 100 });
    assert.equal(await readStageRecord(config, 'select', 'other-inputs'), undefined);
    assert.equal(await readStageRecord(config, 'pretrain', 'key-1'), undefined, 'no record of a stage never completed');
    assert.deepEqual((await readShardPlanPage(plan, 1, 2)).map((s) => s.id), ['pool/pool-1', 'pool/pool-2']);
    assert.deepEqual((await readShardPlanPage(plan, 0, 1)).map((s) => s.id), ['pool/pool-0'], 'a second page, by ranged GETs of its own bytes');
    const markdown = await readLocationText(report.markdown);
    assert.match(markdown ?? '', /# SEPT run report: bucket-run/);
    assert.match(markdown ?? '', /\(figures\/composition\.svg\)/, 'figures linked beside the report');
    assert.deepEqual(await listLocation(run.report.figures), ['composition.svg', 'contact-sheet.png', 'distance-histogram.svg', 'loss-pretrain.svg'].map((f) => uri(`figures/${f}`)));
    assert.deepEqual(await readLocation(uri('figures/contact-sheet.png')), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    assert.ok(filesUnder(join(workers.b, 'cache')).length > 0, 'read through the cache');

    // The record changes on worker A; worker B, which cached the old one, reads the new one.
    asWorker(workers.a);
    await writeStageRecord(config, 'select', 'key-2', { subset: 200 });
    asWorker(workers.b);
    assert.equal(await readStageRecord(config, 'select', 'key-1'), undefined);
    assert.deepEqual(await readStageRecord(config, 'select', 'key-2'), { subset: 200 });

    await deleteLocation(sheet);
    assert.equal(await locationExists(sheet), false);
    assert.deepEqual(
      (await listKeys(s3, BUCKET, '')).sort(),
      ['embed-shards.jsonl', 'embed-shards.jsonl.offsets', 'report.html', 'report.md', 'stages/select.json', 'train/main/pretrain/events.jsonl', ...report.figures.map((f) => f.slice(uri('').length))]
        .map((k) => `runs/bucket-run/${k}`)
        .sort(),
    );
    for (const [name, root] of Object.entries(workers)) {
      const outside = filesUnder(root).filter((f) => !f.startsWith(`cache/`));
      assert.deepEqual(outside, [], `worker ${name} wrote nothing but its cache`);
    }
    assert.equal(existsSync(join(process.cwd(), 's3:')), false, 'no local folder named after the scheme');
  });

  it("keeps a trainer job's checkpoints, events and exported encoder in the bucket, and resumes them on another machine", async () => {
    const config = parseRunConfig({ name: 'bucket-job', outputDir: `s3://${BUCKET}/jobs`, pool: { sources: [{ kind: 'webdataset', name: 'pool', shards: join(dir, 'pool') }] }, target: { preset: 'mnist' } });
    const run = new RunLayout(config.outputDir, config.name);
    const quiet = { info: () => {}, warn: () => {} };
    const uri = (key: string) => `s3://${BUCKET}/jobs/bucket-job/train/main/pretrain/${key}`;

    asWorker(join(dir, 'gpu-a'));
    const onA = run.localTrainerJob('main', 'pretrain');
    assert.ok(onA.dir.startsWith(join(dir, 'gpu-a', 'cache', 'scratch')), onA.dir);
    const mirror = CheckpointMirror.forStage(config, 2, quiet)!;
    await mirror.keepGrowing(onA.events);
    await mkdir(onA.checkpoints, { recursive: true });
    for (const step of [5, 10, 15]) {
      const path = join(onA.checkpoints, `checkpoint-${String(step).padStart(8, '0')}.pt`);
      await writeFile(path, `weights at step ${step}`);
      await appendFile(onA.events, `${JSON.stringify({ event: 'checkpoint', step, attempt: 1 })}\n`);
      mirror.checkpointWritten({ path, step });
      await mirror.settle();
    }
    assert.deepEqual(checkpointKeys(await listKeys(s3, BUCKET, 'jobs/bucket-job/train/main/pretrain/checkpoints/')).map((c) => c.step), [10, 15], 'pruned like the local folder');
    assert.equal(mirror.uriOf(join(onA.checkpoints, 'checkpoint-00000015.pt')), uri('checkpoints/checkpoint-00000015.pt'));
    assert.equal((await readLocationText(uri('events.jsonl')))?.split('\n').filter(Boolean).length, 3, 'the events, uploaded with each checkpoint');

    // Machine B resumes: the newest checkpoint and the events so far land in its own scratch folder.
    asWorker(join(dir, 'gpu-b'));
    const onB = run.localTrainerJob('main', 'pretrain');
    assert.notEqual(onB.dir, onA.dir);
    const resumed = CheckpointMirror.forStage(config, 2, quiet)!;
    assert.equal((await resumed.restore(onB.checkpoints))?.step, 15);
    assert.equal((await latestCheckpoint(onB.checkpoints))?.step, 15);
    await resumed.keepGrowing(onB.events);
    await appendFile(onB.events, `${JSON.stringify({ event: 'checkpoint', step: 20, attempt: 2 })}\n`);
    await resumed.settle();
    assert.equal((await readLocationText(uri('events.jsonl')))?.split('\n').filter(Boolean).length, 4, "B appended to A's events");
    // A checkpoint named by its object is staged by the job, not copied here.
    assert.equal(await localCheckpoint(config, uri('checkpoints/checkpoint-00000015.pt')), uri('checkpoints/checkpoint-00000015.pt'));

    // Stage 0's export, read back from the bucket by a CPU worker.
    await writeLocation(uri('encoder.onnx'), 'onnx bytes');
    await writeLocation(uri('encoder.json'), JSON.stringify({ input_name: 'images', output_name: 'features', channels: 1, size: 28, crop: 28, mean: [0.5], std: [0.25], l2_normalize: true }));
    assert.deepEqual(await exportedEncoderConfig(uri('encoder.onnx')), { model: uri('encoder.onnx'), inputName: 'images', outputName: 'features', channels: 1, size: 28, crop: 28, mean: [0.5], std: [0.25], l2Normalize: true });
  });

  it('fails a run at its first step when the outputDir bucket does not exist, with the URI and the store\'s words', async () => {
    const pool = join(dir, 'pool');
    const config = parseRunConfig({ name: 'no-bucket', outputDir: 's3://septflow-no-such-bucket/runs', pool: { sources: [{ kind: 'webdataset', name: 'pool', shards: pool }] }, target: { preset: 'mnist' } });
    // A bucket the worker is given, which the store does not have.
    setEnv({ SEPT_BUCKETS: `${s3.env.SEPT_BUCKETS},s3://septflow-no-such-bucket` });
    await assert.rejects(checkRunInputs(config), (err: Error) => {
      assert.equal(err.name, 'ConfigError');
      assert.match(err.message, /outputDir: object storage s3:\/\/septflow-no-such-bucket\/runs\/: listing refused \(NoSuchBucket: /);
      return true;
    });
  });
});

function reportInput(run: RunLayout, config: RunReportInput['config'], events: string, contactSheet: string): RunReportInput {
  const done = { status: 'done' as const, seconds: 1, startedAt: 1_700_000_000_000 };
  return {
    run: run.run,
    workflowId: 'bucket-run',
    files: run.report,
    config,
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_060_000,
    stages: { encoder: { status: 'skipped' }, embed: done, select: done, pretrain: done, finetune: done, report: { status: 'running' } },
    encoder: { model: '/models/encoder.onnx', encoderId: 'enc', trainedInRun: false },
    embed: { shards: 3, samplesEmbedded: 3, quarantined: 0, quarantinedByReason: {} },
    poolPerSource: { pool: 3 },
    selection: {
      stats: {
        size: 2,
        policy: 'budget',
        budget: 2,
        shortfall: 0,
        path: 'exact',
        perSource: { pool: 2 },
        perTargetClass: { '1': 2 },
        duplicatesRemoved: 0,
        leakageSaturated: 0,
        targetImagesDropped: 0,
        belowMinSimilarity: 0,
        distanceHistogram: { binWidth: 0.05, counts: [2] },
        meanHitCount: 1,
      },
      poolRows: 3,
      contactSheet,
      manifest: 'subset.jsonl',
    },
    metrics: { top1: 0.5, knn_top1: 0.5, linear_probe_top1: null },
    trainerEvents: [{ label: 'pretrain', path: events }],
    target: { classes: { rule: 'sorted-names', classToIndex: { a: 0, b: 1 }, numClasses: 2 }, classesFile: 'classes.json', trainPerLabel: { a: 1, b: 1 }, testPerLabel: { a: 1, b: 1 } },
  };
}
