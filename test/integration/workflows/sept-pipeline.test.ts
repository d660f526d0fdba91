import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { RunConfigInput } from '../../../lib/config/schema';
import type { DedupStats } from '../../../lib/dedup/groups';
import { readGroups } from '../../../lib/dedup/tables';
import { demoPlantedCopies, demoShards } from '../../../lib/demo/materialize';
import { DEMO_CNN, ensureTestEncoder } from '../../../lib/encoder/test-encoders';
import { writeThumbnailEncoder } from '../../../lib/encoder/thumbnail';
import { PIPELINE_STAGES } from '../../../lib/pipeline/stages';
import { RunLayout } from '../../../lib/run-layout';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { openStore } from '../../../lib/vectors/connect';
import { SEPT_SEARCH_ATTRIBUTES } from '../../../lib/temporal/search-attributes';
import { readShard } from '../../../lib/webdataset/reader';
import { ShardWriter } from '../../../lib/webdataset/writer';
import type { EmbedPoolResult } from '../../../workflows/embed-pool';
import { pipelineProgressQuery } from '../../../workflows/queries';
import type { septPipeline } from '../../../workflows/sept-pipeline';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { writeFewShotFolders } from '../../support/image-folders';
import { tempDir } from '../../support/tmp';
import { smallPipelineConfig } from '../../support/small-run';

/** A WebDataset shard of the MNIST test images whose label passes `keep` (none: an empty shard). */
async function mnistTestShard(keep: (label: number) => boolean): Promise<string> {
  const path = join(tempDir(), 'shard-000000.tar');
  const writer = await ShardWriter.create(path);
  for await (const sample of readShard((await demoShards('mnist', 'test'))[0])) {
    const { label } = JSON.parse(sample.files.json!.toString('utf8')) as { label: number };
    if (keep(label)) await writer.write(sample);
  }
  await writer.close();
  return path;
}

describe('septPipeline on a real dev server, with stage 0, real retrieval and the reference trainer', () => {
  const temporal = useTestTemporal();

  const run = (workflowId: string, config: RunConfigInput) =>
    withWorkers(temporal, async () => (await temporal.client.workflow.start<typeof septPipeline>('septPipeline', { taskQueue: CPU_QUEUE, workflowId, args: [config] })).result());

  /** Runs a pipeline while polling its progress query; returns the result and the stages the query reported. */
  const runWatched = (workflowId: string, config: RunConfigInput) =>
    withWorkers(temporal, async () => {
      const handle = await temporal.client.workflow.start<typeof septPipeline>('septPipeline', { taskQueue: CPU_QUEUE, workflowId, args: [config] });
      const result = handle.result();
      let finished = false;
      void result.finally(() => (finished = true)).catch(() => undefined);
      const seen = new Set<string>();
      while (!finished) {
        const p = await handle.query(pipelineProgressQuery).catch(() => undefined);
        if (p) seen.add(p.stage);
        await new Promise((r) => setTimeout(r, 250));
      }
      return { result: await result, seen };
    });

  it('runs every stage, selects mostly target-like images, reports, and reuses complete stages when run again', async () => {
    const config = await smallPipelineConfig('e2e');
    const { result: first, seen } = await runWatched('e2e', config);
    assert.ok(seen.has('embed') && seen.has('pretrain') && seen.has('finetune'), `the progress query reported the stages ${[...seen]}`);
    console.log('small pipeline:', JSON.stringify({ metrics: first.metrics, subset: first.selection.stats.perSource, stages: first.progress.stages }));

    assert.deepEqual(
      PIPELINE_STAGES.map((s) => first.progress.stages[s].status),
      ['done', 'done', 'done', 'done', 'done', 'done'],
    );
    assert.equal(first.encoder.trainedInRun, true);
    assert.match(first.encoder.model, /train\/encoder\/export\/encoder\.onnx$/);
    assert.equal(first.embed.samplesEmbedded, 5000);
    // The pool is 40% MNIST; the target is MNIST: retrieval must find the digits.
    const { perSource, size } = first.selection.stats;
    assert.equal(size, 300);
    assert.ok((perSource.mnist ?? 0) / size > 0.8, `subset composition ${JSON.stringify(perSource)}`);
    for (const key of ['top1', 'knn_top1', 'linear_probe_top1']) {
      const value = first.metrics[key];
      assert.ok(typeof value === 'number' && value > 0.1 && value <= 1, `${key} = ${value}`);
    }
    for (const file of [first.report.markdown, first.report.html, ...first.report.figures]) assert.ok(existsSync(file), `${file} exists`);
    const html = readFileSync(first.report.html, 'utf8');
    assert.match(html, new RegExp(`${(100 * first.metrics.top1!).toFixed(1)}%`));

    const description = await temporal.client.workflow.getHandle('e2e').describe();
    assert.equal(description.typedSearchAttributes.get(SEPT_SEARCH_ATTRIBUTES.stage), 'done');
    assert.equal(description.typedSearchAttributes.get(SEPT_SEARCH_ATTRIBUTES.runName), 'e2e');
    assert.equal(description.typedSearchAttributes.get(SEPT_SEARCH_ATTRIBUTES.subsetSize), size);
    assert.equal(description.typedSearchAttributes.get(SEPT_SEARCH_ATTRIBUTES.top1), first.metrics.top1);
    for (const stage of ['encoder', 'embed', 'select', 'pretrain', 'finetune']) {
      const child = await temporal.client.workflow.getHandle(`e2e/${stage}`).describe();
      assert.equal(child.status.name, 'COMPLETED', `e2e/${stage}`);
      assert.equal(child.typedSearchAttributes.get(SEPT_SEARCH_ATTRIBUTES.runName), 'e2e');
    }

    const again = await run('e2e', config);
    assert.deepEqual(
      PIPELINE_STAGES.map((s) => again.progress.stages[s].status),
      ['reused', 'done', 'reused', 'reused', 'reused', 'done'],
    );
    assert.deepEqual(again.metrics, first.metrics);
    assert.equal(again.embed.samplesEmbedded, first.embed.samplesEmbedded, 'embedding found every shard committed');
  });

  it('trains, evaluates and reports a few-shot target kept as class-name folders, with default fine-tuning settings and the pool deduplicated by a copy detector', async () => {
    // 4 Fashion-MNIST classes, 10 train and 5 test images each, as PNG files in ImageFolder layout.
    const root = tempDir();
    await writeFewShotFolders(async (path, png) => {
      const file = join(root, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, png);
    });
    const pool = async (dataset: 'mnist' | 'fashion-mnist') => ({ kind: 'webdataset' as const, name: dataset, shards: (await demoShards(dataset, 'train')).slice(0, 1) });
    // The demo's planted copies of Fashion-MNIST train images (lib/demo/near-duplicates.ts), those of the pool's shard among them.
    const copies = { kind: 'webdataset' as const, name: 'copies', shards: (await demoShards('fashion-mnist', 'copies')).slice(0, 1) };
    const detector = await writeThumbnailEncoder(join(root, 'copy-detector'), { channels: 1, size: 28, cells: 14 });
    const fashion = await pool('fashion-mnist');
    const config = await smallPipelineConfig('folders', {
      encoder: { model: await ensureTestEncoder(DEMO_CNN, join(root, 'encoders')), batchSize: 128, threads: 1 },
      pool: { sources: [fashion, await pool('mnist'), copies] },
      target: { train: { kind: 'folder', name: 'train', path: join(root, 'train') }, test: { kind: 'folder', name: 'test', path: join(root, 'test') } },
      finetune: { epochs: 2 },
      dedup: { enabled: true, threshold: 0.997, encoder: { model: detector, threads: 1 } },
    });
    const result = await run('folders', config);

    // The groups were found on the detector's own vectors, embedded by a second embedPool child.
    const childResult = (id: string) => temporal.client.workflow.getHandle(`folders/${id}`).result();
    const [embedded, detected, dedup] = (await Promise.all(['embed', 'dedup-embed', 'dedup'].map(childResult))) as [EmbedPoolResult, EmbedPoolResult, DedupStats];
    assert.notEqual(detected.encoderId, embedded.encoderId);
    assert.equal(dedup.poolRows, 3000);
    const groups = await readGroups(await (await openStore(config.store!.uri!)).openTable(dedup.groupsTable));
    const groupOf = new Map(groups.flatMap((g) => g.members.map((m): [string, string] => [m, g.representative])));
    const inPool = new Set<string>();
    for await (const sample of readShard(fashion.shards[0])) inPool.add(`fashion-mnist/${sample.key}`);
    // JPEG re-encodings (correlation 0.9956 at the least over the demo's 470) are what a thumbnail detector is for.
    const jpeg = (await demoPlantedCopies('fashion-mnist')).filter((c) => c.transform === 'jpeg' && inPool.has(c.original));
    const found = jpeg.filter((c) => groupOf.get(`copies/${c.copy.split('/')[1]}`) !== undefined && groupOf.get(`copies/${c.copy.split('/')[1]}`) === groupOf.get(c.original));
    assert.ok(jpeg.length >= 5, `${jpeg.length} JPEG copies of the pool's Fashion-MNIST shard`);
    assert.ok(found.length >= 0.8 * jpeg.length, `${found.length} of ${jpeg.length} JPEG copies grouped with their originals`);
    // No chaining of look-alikes: the groups stay the size of a copy family.
    assert.ok(dedup.largestGroup <= 4, `largest group ${dedup.largestGroup}`);

    assert.deepEqual(
      PIPELINE_STAGES.map((s) => result.progress.stages[s].status),
      ['skipped', 'done', 'done', 'done', 'done', 'done'],
    );
    for (const key of ['top1', 'knn_top1', 'linear_probe_top1']) assert.equal(typeof result.metrics[key], 'number', `${key} = ${result.metrics[key]}`);
    const layout = new RunLayout(config.outputDir!, 'folders');
    const [content] = readdirSync(join(layout.dir, 'target'));
    assert.deepEqual(JSON.parse(readFileSync(layout.labeledTarget(content).classes, 'utf8')), {
      rule: 'sorted-names',
      classToIndex: { bag: 0, sandal: 1, sneaker: 2, trouser: 3 },
      numClasses: 4,
    });
    const variant = readdirSync(join(layout.dir, 'train')).find((v) => v.startsWith('finetune-'))!;
    const finetune = JSON.parse(readFileSync(layout.trainerJob(variant, 'finetune').config('finetune'), 'utf8')) as { batch_size: number };
    assert.equal(finetune.batch_size, 40, 'the default batch, bounded by the 40 labeled images');
    const md = readFileSync(result.report.markdown, 'utf8');
    assert.match(md, /\| 0 \| bag \| 10 \| 5 \|\n\| 1 \| sandal \| 10 \| 5 \|\n\| 2 \| sneaker \| 10 \| 5 \|\n\| 3 \| trouser \| 10 \| 5 \|/);
  });

  describe('bad input fails the run at its first step, naming the setting, and leaves no stage behind', () => {
    const failure = async (name: string, overrides: Partial<RunConfigInput>): Promise<{ message: string; config: RunConfigInput }> => {
      const config = await smallPipelineConfig(name, overrides);
      const err = await run(name, config).then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const history = await temporal.client.workflow.getHandle(name).fetchHistory();
      const activities = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
      assert.deepEqual(activities, ['resolveRunConfig', 'checkRunInputs'], 'nothing runs after the input check');
      assert.ok(!existsSync(join(config.outputDir!, name, 'stages')), 'no stage recorded as complete');
      // The workflow fails with its first activity's failure: the message is the innermost cause's.
      let cause: Error = err;
      while (cause.cause instanceof Error) cause = cause.cause;
      return { message: cause.message, config };
    };

    it('a pool path that does not exist', async () => {
      // Under the data dir, where the worker lets runs read: missing, not refused.
      const { message } = await failure('bad-pool', { pool: { sources: [{ kind: 'webdataset', shards: 'nonexistent/pool' }] } });
      assert.match(message, /pool\.sources\[0\]: .*\/nonexistent\/pool/);
    });

    it('an empty target set', async () => {
      const empty = await mnistTestShard(() => false);
      const { message } = await failure('empty-target', { target: { train: { kind: 'webdataset', shards: empty } } });
      assert.match(message, /target\.train/);
    });

    it('a target label missing from the target test set', async () => {
      const fewClasses = await mnistTestShard((label) => label < 5);
      const { message } = await failure('missing-label', { target: { labelsPerClass: 5, test: { kind: 'webdataset', shards: fewClasses } } });
      assert.match(message, /target\.test: has no image of class 5, 6, 7, 8, 9/);
    });

    it('an encoder file that is not ONNX', async () => {
      const notOnnx = join(tempDir(), 'encoder.onnx');
      await writeFile(notOnnx, 'this is not a model');
      const { message } = await failure('bad-encoder', { encoder: { model: notOnnx, threads: 1 } });
      assert.match(message, /encoder\.model: .*encoder\.onnx is not an ONNX model/);
    });
  });
});
