// The random pool sample of stage 0 (trainEncoder) and of the experiment's random arm
// (workflows/pool-sample.ts) in seconds: mocked activities on a real dev server. The pool is sampled
// page by page of its shard plan in the `embed.window`, the pages folded, the sample's shards copied
// group by group; what the trainer gets is the fold's sample.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { PoolSample } from '../../../activities/pipeline';
import { resolveRunConfig } from '../../../activities/run-config';
import type { SourceSpec } from '../../../lib/config/sources';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import type { ShardPlan } from '../../../lib/embed/shard-plan';
import type { PassPages } from '../../../lib/sources/pass-pages';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { TrainerResult } from '../../../lib/trainer/job';
import { workerOptions } from '../../../workers/worker';
import type { septExperiment } from '../../../workflows/sept-experiment';
import type { trainEncoder } from '../../../workflows/train-encoder';
import { useTestTemporal } from '../../support/temporal';
import { workflowCode } from '../../../workers/workflow-bundle';

const PLAN: ShardPlan = { path: '/out/run/samples/encoder/pool-shards.jsonl', total: 20, bytes: 2000 };
const sampleOf = (name: string): PoolSample => ({
  source: { kind: 'webdataset', name: `sample-${name}`, shards: `/out/run/samples/${name}/shards/subset-{000000..000002}.tar` },
  samples: 50,
  perSource: { pool: 50 },
});

describe('a random pool sample, page by page (mocked activities)', () => {
  const calls = {
    onePass: 0,
    planned: [] as string[],
    pages: [] as string[],
    inFlight: 0,
    mostInFlight: 0,
    folded: [] as { name: string; pages: PassPages; pagesSampled: number }[],
    groups: [] as string[],
  };
  const sampling = {
    resolveRunConfig,
    async samplePool(): Promise<PoolSample> {
      calls.onePass++;
      return sampleOf('one-pass');
    },
    async planPoolSample(_config: unknown, name: string): Promise<ShardPlan> {
      calls.planned.push(name);
      return PLAN;
    },
    async samplePoolPage(_config: unknown, name: string, plan: ShardPlan, pages: PassPages, page: number, size: number, seed: number) {
      assert.deepEqual(plan, PLAN);
      assert.ok(page < pages.count);
      calls.mostInFlight = Math.max(calls.mostInFlight, ++calls.inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      calls.inFlight--;
      calls.pages.push(`${name}/${page} size ${size} seed ${seed}`);
      return { samples: size };
    },
    async foldPoolSample(_config: unknown, name: string, _plan: ShardPlan, pages: PassPages) {
      calls.folded.push({ name, pages, pagesSampled: calls.pages.filter((p) => p.startsWith(`${name}/`)).length });
      return { sample: sampleOf(name), groups: 2 };
    },
    async writePoolSampleGroup(_config: unknown, name: string, group: number) {
      calls.groups.push(`${name}/${group}`);
      return { samples: 25, shards: 1 };
    },
  };
  beforeEach(() => Object.assign(calls, { onePass: 0, planned: [], pages: [], inFlight: 0, mostInFlight: 0, folded: [], groups: [] }));

  const temporal = useTestTemporal();

  /** Runs a workflow to its end on a sept-cpu worker of `bundle` and `activities`, and a sept-gpu worker of `gpu` where there is one. */
  async function runOn<T>(bundle: WorkflowBundleOption, activities: object, gpu: object | undefined, result: () => Promise<T>): Promise<T> {
    const connection = await NativeConnection.connect({ address: temporal.server.address });
    const settings = workerSettingsFromEnv();
    const cpuWorker = await Worker.create({ connection, ...workerOptions('cpu', settings, { workflowBundle: bundle }), activities });
    const gpuWorker = gpu && (await Worker.create({ connection, ...workerOptions('gpu', settings), activities: gpu }));
    return cpuWorker.runUntil(gpuWorker ? gpuWorker.runUntil(result()) : result()).finally(() => connection.close());
  }

  it('stage 0: samples in the embed window, folds once every page is sampled, copies each group, and trains on the sample', async () => {
    const pretrainedOn: SourceSpec[][] = [];
    const trainer = {
      async runTrainer(job: { stage: string; job: string; train: SourceSpec[] }): Promise<TrainerResult> {
        if (job.stage === 'pretrain') pretrainedOn.push(job.train);
        const artifact = job.stage === 'pretrain' ? { kind: 'pretrained_checkpoint', path: '/ck/pretrained.pt' } : { kind: 'onnx_encoder', path: '/enc/encoder.onnx' };
        return { stage: job.stage, job: job.job, metrics: {}, artifacts: [artifact], attempt: 1 } as TrainerResult;
      },
    };
    const activities = { ...sampling, readExportedEncoder: async (model: string) => ({ model }) };
    const handle = await temporal.client.workflow.start<typeof trainEncoder>('trainEncoder', {
      taskQueue: CPU_QUEUE,
      workflowId: 'run/encoder',
      args: [{ demo: true, name: 'run', encoderTraining: { sampleSize: 50, seed: 3 }, embed: { window: 2 } }],
    });
    const result = await runOn(await workflowCode(), activities, trainer, () => handle.result());

    assert.equal(calls.onePass, 0, 'no execution of this version samples in one activity');
    assert.deepEqual(calls.planned, ['encoder']);
    // 20 shards in pages of 8: three pages, at most two at once.
    assert.deepEqual(calls.pages.sort(), [0, 1, 2].map((p) => `encoder/${p} size 50 seed 3`));
    assert.ok(calls.mostInFlight <= 2, `${calls.mostInFlight} pages at once`);
    assert.deepEqual(calls.folded, [{ name: 'encoder', pages: { count: 3, shards: 8 }, pagesSampled: 3 }]);
    assert.deepEqual(calls.groups.sort(), ['encoder/0', 'encoder/1']);
    assert.deepEqual(pretrainedOn, [[sampleOf('encoder').source]]);
    assert.equal(result.sampleSize, 50);
  });

  it("the experiment's random arm: one sample a seed, of the SEPT subset's size, its images the arm's", async () => {
    // The real septExperiment, its children stand-ins (test/support/stub-children.ts).
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../support/stub-children'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
    const activities = {
      ...sampling,
      checkRunInputs: async () => ({}),
      poolComposition: async () => ({ pool: 100 }),
      armDuplicates: async () => ({ images: 50, duplicates: 1 }),
      writeExperiment: async () => ({ markdown: 'results.md', json: 'results.json', table: '' }),
    };
    const handle = await temporal.client.workflow.start<typeof septExperiment>('septExperiment', {
      taskQueue: CPU_QUEUE,
      workflowId: 'run-experiment',
      args: [{ demo: true, name: 'run' }, { seeds: [0, 1], arms: ['random'] }],
    });
    const result = await runOn(bundle, activities, undefined, () => handle.result());

    assert.equal(calls.onePass, 0);
    assert.deepEqual(calls.planned, ['random-s0', 'random-s1']);
    // The stand-in selection has 10 samples: each seed's sample has that size and that seed.
    assert.deepEqual(calls.pages.sort(), ['random-s0/0 size 10 seed 0', 'random-s0/1 size 10 seed 0', 'random-s0/2 size 10 seed 0', 'random-s1/0 size 10 seed 1', 'random-s1/1 size 10 seed 1', 'random-s1/2 size 10 seed 1']);
    assert.deepEqual(calls.folded.map((f) => [f.name, f.pagesSampled]), [['random-s0', 3], ['random-s1', 3]]);
    assert.deepEqual(calls.groups.sort(), ['random-s0/0', 'random-s0/1', 'random-s1/0', 'random-s1/1']);
    assert.deepEqual(result.rows.map((r) => [r.arm, r.seed, r.pretrainImages, r.duplicates]), [['random', 0, 50, 1], ['random', 1, 50, 1]]);
  });
});
