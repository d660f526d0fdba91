// septPipeline's plan in seconds: stand-in children (test/support/stub-children.ts) and mocked
// activities on a real dev server. What it checks: which stages run and which are reused on a
// rerun, what the report is asked for, and the failures a person meets first.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { resolveRunConfig } from '../../../activities/run-config';
import type { ReportRequest } from '../../../activities/pipeline';
import type { RunConfig, RunConfigInput } from '../../../lib/config/schema';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import type { CheckedInputs } from '../../../lib/pipeline/check-inputs';
import type { InputContent } from '../../../lib/pipeline/stage-inputs';
import { stageKey } from '../../../lib/pipeline/stage-record';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { workerOptions } from '../../../workers/worker';
import type { SeptRunResult } from '../../../workflows/pipeline-types';
import { overrideEnv } from '../../support/env';
import { useTestTemporal } from '../../support/temporal';

const input = (name: string, patch: Partial<RunConfigInput> = {}): RunConfigInput => ({
  name,
  encoder: { model: '/models/enc.onnx' },
  pool: { sources: [{ kind: 'webdataset', name: 'pool', shards: ['/pool/pool-000000.tar'] }] },
  target: { train: { kind: 'folder', name: 'train', path: '/target/train' }, test: { kind: 'folder', name: 'test', path: '/target/test' } },
  ...patch,
});

/**
 * Stage records kept in memory, as lib/pipeline/stage-record.ts keeps them on disk: one per run and
 * stage. `content` is what the input check reports the pool and the target hold; change it to
 * change a source under the same settings.
 */
function mockedActivities() {
  const records = new Map<string, { key: string; result: unknown }>();
  const reports: ReportRequest[] = [];
  const content: InputContent = { pool: 'pool-v1', targetTrain: 'train-v1', targetTest: 'test-v1' };
  const activities = {
    resolveRunConfig,
    async checkRunInputs(): Promise<CheckedInputs> {
      return { poolShards: 1, targetTrain: 2, targetTest: 2, content: { ...content } };
    },
    async findStageRecord(config: RunConfig, stage: string, inputs: unknown) {
      const key = stageKey(inputs);
      const record = records.get(`${config.name}/${stage}`);
      return { key, result: record?.key === key ? record.result : undefined };
    },
    async saveStageRecord(config: RunConfig, stage: string, key: string, result: unknown) {
      records.set(`${config.name}/${stage}`, { key, result });
    },
    async writeReport(request: ReportRequest) {
      reports.push(request);
      return { markdown: `/runs/${request.run}/report.md`, html: `/runs/${request.run}/report.html`, figures: [] };
    },
  };
  return { activities, reports, content };
}

const QUIET = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

describe('septPipeline (stand-in children, mocked activities)', () => {
  // The configuration is resolved for real, on a worker that reads where `input` points.
  overrideEnv()({ SEPT_READ_ROOTS: ['/models', '/pool', '/target'].join(':') });
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  // Before the server stops: after hooks run in the order they are registered.
  after(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
  });
  const temporal = useTestTemporal();
  /** The mock of the test at hand: one worker serves every test (starting and stopping one costs seconds). */
  let mock = mockedActivities();
  before(async () => {
    connection = await NativeConnection.connect({ address: temporal.server.address });
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../support/stub-children'), logger: QUIET });
    const activities = Object.fromEntries(Object.keys(mock.activities).map((name) => [name, (...args: unknown[]) => (mock.activities as Record<string, (...a: unknown[]) => unknown>)[name](...args)]));
    worker = await Worker.create({ connection, ...workerOptions('cpu', workerSettingsFromEnv(), { workflowBundle }), activities });
    running = worker.run();
  });

  const run = async (m: ReturnType<typeof mockedActivities>, workflowId: string, config: RunConfigInput) => {
    mock = m;
    return (await temporal.client.workflow.execute('septPipeline', { taskQueue: CPU_QUEUE, workflowId, args: [config] })) as SeptRunResult;
  };

  const statuses = (r: SeptRunResult) => Object.fromEntries(Object.entries(r.progress.stages).map(([s, t]) => [s, t.status]));

  it('runs every stage, then reuses every stage whose inputs are unchanged', async () => {
    const mock = mockedActivities();
    const first = await run(mock, 'plan/first', input('plan'));
    assert.deepEqual(statuses(first), { encoder: 'skipped', embed: 'done', select: 'done', pretrain: 'done', finetune: 'done', report: 'done' });
    assert.equal(first.metrics.top1, 0.9);
    assert.equal(first.progress.figures.subsetSize, 10);

    const again = await run(mock, 'plan/again', input('plan'));
    assert.deepEqual(statuses(again), { encoder: 'skipped', embed: 'done', select: 'reused', pretrain: 'reused', finetune: 'reused', report: 'done' });
    assert.equal(again.pretrain.pretrainedCheckpoint, first.pretrain.pretrainedCheckpoint, 'the reused stage hands on the recorded checkpoint');

    const finetuneOnly = await run(mock, 'plan/epochs', input('plan', { finetune: { epochs: 2 } }));
    assert.deepEqual(statuses(finetuneOnly), { encoder: 'skipped', embed: 'done', select: 'reused', pretrain: 'reused', finetune: 'done', report: 'done' });
  });

  it('redoes the selection and what follows when the target changed under the same settings, and reuses them while it has not', async () => {
    const mock = mockedActivities();
    await run(mock, 'content/first', input('content'));
    const same = await run(mock, 'content/same', input('content'));
    assert.deepEqual(statuses(same), { encoder: 'skipped', embed: 'done', select: 'reused', pretrain: 'reused', finetune: 'reused', report: 'done' });

    mock.content.targetTrain = 'train-v2'; // an image replaced in place: the same names, another listing
    const changed = await run(mock, 'content/changed', input('content'));
    assert.deepEqual(statuses(changed), { encoder: 'skipped', embed: 'done', select: 'done', pretrain: 'done', finetune: 'done', report: 'done' });
    const again = await run(mock, 'content/again', input('content'));
    assert.deepEqual(statuses(again), { encoder: 'skipped', embed: 'done', select: 'reused', pretrain: 'reused', finetune: 'reused', report: 'done' });

    mock.content.pool = 'pool-v2';
    const pool = await run(mock, 'content/pool', input('content'));
    assert.deepEqual(statuses(pool), { encoder: 'skipped', embed: 'done', select: 'done', pretrain: 'done', finetune: 'done', report: 'done' });
  });

  it('deduplicates the pool between embedding and selection when dedup.enabled, and selects anew for it', async () => {
    const mock = mockedActivities();
    const children = async (workflowId: string) =>
      ((await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ?? []);
    await run(mock, 'dedup/off', input('dedup'));
    assert.deepEqual(await children('dedup/off'), ['embedPool', 'selectSubset', 'trainModel', 'trainModel']);
    const on = await run(mock, 'dedup/on', input('dedup', { dedup: { enabled: true } }));
    assert.deepEqual(await children('dedup/on'), ['embedPool', 'dedupPool', 'selectSubset', 'trainModel', 'trainModel']);
    assert.deepEqual(statuses(on), { encoder: 'skipped', embed: 'done', select: 'done', pretrain: 'done', finetune: 'done', report: 'done' });
  });

  it('with dedup.encoder, embeds the pool with that encoder and finds the groups on its vectors; another dedup encoder selects anew', async () => {
    const mock = mockedActivities();
    const children = async (workflowId: string) =>
      ((await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).flatMap((e) => {
        const start = e.startChildWorkflowExecutionInitiatedEventAttributes;
        if (!start) return [];
        const config = JSON.parse(Buffer.from(start.input!.payloads![0].data!).toString()) as RunConfig;
        return [`${start.workflowType!.name} ${start.workflowId!.slice(workflowId.length)} ${config.encoder.model}`];
      });
    const withDetector = (model: string) => input('dedupenc', { dedup: { enabled: true, encoder: { model } } });
    const first = await run(mock, 'dedupenc/first', withDetector('/models/copy.onnx'));
    assert.deepEqual((await children('dedupenc/first')).slice(0, 4), [
      'embedPool /embed /models/enc.onnx',
      'embedPool /dedup-embed /models/copy.onnx',
      'dedupPool /dedup /models/copy.onnx',
      'selectSubset /select /models/enc.onnx',
    ]);
    assert.equal(statuses(first).select, 'done');
    assert.equal(statuses(await run(mock, 'dedupenc/same', withDetector('/models/copy.onnx'))).select, 'reused');
    // Groups found by another encoder remove other images: the selection is made anew.
    assert.equal(statuses(await run(mock, 'dedupenc/other', withDetector('/models/copy-14.onnx'))).select, 'done');
  });

  it('trains the encoder in stage 0 when none is configured, and names its jobs in the report request', async () => {
    const mock = mockedActivities();
    const result = await run(mock, 'stage0', input('stage0', { encoder: {} }));
    assert.equal(result.progress.stages.encoder.status, 'done');
    assert.equal(result.encoder.trainedInRun, true);
    assert.match(result.encoder.model, /encoder-\d+\.onnx$/);
    const [report] = mock.reports;
    assert.ok(report, 'the report was asked for');
    assert.deepEqual(
      report.trainerJobs.map((j) => `${j.label}:${j.variant.replace(/-[0-9a-f]{16}$/, '-<key>')}/${j.job}`),
      ['encoder pretrain (stage 0):encoder/pretrain', 'pretrain:pretrain-<key>/pretrain', 'finetune:finetune-<key>/finetune'],
    );
  });

  it('refuses to pre-train on an empty subset, naming the settings to change', async () => {
    const error = await run(mockedActivities(), 'empty', input('empty', { retrieval: { budget: 1 } })).catch((err: unknown) => err);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, 'EmptySubset');
    assert.match(error.cause.message, /retrieval\.budget/);
  });

  it('fails at once on an invalid configuration, naming the field, and records the resolved configuration otherwise', async () => {
    const error = await run(mockedActivities(), 'invalid', { ...input('invalid'), retrieval: { bugdet: 3 } } as unknown as RunConfigInput).catch((err: unknown) => err);
    assert.ok(error instanceof WorkflowFailedError, String(error));
    assert.ok(error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, 'InvalidRunConfig');
    assert.match(error.cause.message, /retrieval\.bugdet: unknown field/);

    const history = await temporal.client.workflow.getHandle('plan/first').fetchHistory();
    const events = history.events ?? [];
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'resolveRunConfig');
    assert.ok(scheduled, 'the configuration is resolved by an activity');
    const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId));
    assert.ok(completed?.activityTaskCompletedEventAttributes?.result, 'the resolved configuration is recorded in the history');
    // A local activity's result may be recorded a workflow task before the workflow's reaction to it, which cannot be replayed after a patch (docs/architecture.md).
    assert.equal(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length, 0, 'no local activities');
  });
});
