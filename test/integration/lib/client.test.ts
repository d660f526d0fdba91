import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import {
  ConfigError,
  getSeptRun,
  parseRunConfig,
  runConfigJsonSchemaPath,
  runConfigSchema,
  type RunConfigInput,
  runSummary,
  SEPT_PIPELINE,
  startSeptRun,
  startWorkflowRun,
} from '../../../index';
import { demoShards } from '../../../lib/demo/materialize';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { waitFor } from '../../support/processes';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';
import { givenEncoder, smallPipelineConfig } from '../../support/small-run';

/** A run over one MNIST test shard: census finishes in seconds. */
async function smallConfig(name: string): Promise<RunConfigInput> {
  return {
    name,
    outputDir: tempDir(),
    pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: (await demoShards('mnist', 'test')).slice(0, 1) }] },
    target: { labelsPerClass: 5 },
    pretrain: { steps: 40, batchSize: 32 },
  };
}

describe('client API', () => {
  it('exports the schema, the validator and the JSON Schema path', () => {
    assert.ok(existsSync(runConfigJsonSchemaPath), runConfigJsonSchemaPath);
    assert.equal(runConfigSchema.parse({ demo: true }).name, 'demo');
    assert.equal(parseRunConfig({ demo: true, name: 'x' }).name, 'x');
    assert.match(runSummary(parseRunConfig({ demo: true, name: 'nightly' })), /^SEPT run nightly: pool fashion-mnist \+ fashion-mnist\/copies \+ mnist\/train, target mnist\/train \(20\/class\), budget 8,000, simclr 600 steps$/);
  });

  it('refuses an invalid configuration, naming the fields, before connecting or starting anything', async () => {
    // Nothing answers at this address: a connection attempt would fail differently, and slowly.
    const saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
    try {
      const started = Date.now();
      await assert.rejects(startSeptRun({ name: 'bad-run', retrieval: { bugdet: 3 } as never, pool: { sources: [] }, target: { preset: 'mnist' } }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /retrieval\.bugdet: unknown field/);
        assert.match(err.message, /pool\.sources:/);
        return true;
      });
      assert.ok(Date.now() - started < 1000, 'no connection was attempted');
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved;
    }
  });
});

describe('client API on a real dev server', () => {
  const temporal = useTestTemporal();

  it('an invalid configuration starts no workflow', async () => {
    await assert.rejects(startSeptRun({ demo: true, name: 'bad-run', encoder: { crop: 64, size: 32 } }, { client: temporal.client }), /encoder\.crop: crop must not exceed size/);
    await assert.rejects(temporal.client.workflow.getHandle('bad-run').describe(), WorkflowNotFoundError);
  });

  it('startSeptRun starts septPipeline on sept-cpu, id = run name, args = the validated config, with a summary', async () => {
    // No worker here: this checks what is started, not the pipeline (its own tests run it).
    const config = await smallConfig('api-pipeline');
    const run = await startSeptRun(config, { client: temporal.client });
    try {
      assert.equal(run.workflowId, 'api-pipeline');
      const info = await run.workflow.describe();
      assert.equal(info.type, SEPT_PIPELINE);
      assert.equal(info.taskQueue, 'sept-cpu');
      assert.equal(info.runId, run.runId);
      assert.equal(await info.staticSummary(), 'SEPT run api-pipeline: pool mnist-part, target mnist/train (5/class), budget 8,000, simclr 40 steps');
      const history = await run.workflow.fetchHistory();
      const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const args = JSON.parse(Buffer.from(input!.data!).toString()) as { retrieval: { budget: number }; name: string };
      assert.equal(args.name, 'api-pipeline');
      assert.equal(args.retrieval.budget, 8000, 'defaults filled in: the validated config travels');
      // A second run of the same name while the first runs is refused.
      await assert.rejects(startSeptRun(config, { client: temporal.client }), WorkflowExecutionAlreadyStartedError);
      const other = await startSeptRun(config, { client: temporal.client, workflowId: 'api-pipeline-2', summary: 'nightly retrieval sweep' });
      assert.equal(await (await other.workflow.describe()).staticSummary(), 'nightly retrieval sweep');
      await other.workflow.terminate('test done');
    } finally {
      await run.workflow.terminate('test done');
      await run.close();
    }
  });

  it('runs SEPT end to end to its result, with progress, on a connection of its own from TEMPORAL_ADDRESS', async () => {
    const config = await smallPipelineConfig('api-run', { encoder: await givenEncoder() });
    const saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = temporal.server.address;
    try {
      const result = await withWorkers(temporal, async () => {
        const run = await startSeptRun(config);
        try {
          assert.equal(run.workflowId, 'api-run');
          const progress = await waitFor('the progress query to answer', () => run.progress().catch(() => undefined));
          assert.equal(progress.run, 'api-run');
          return await run.result();
        } finally {
          await run.close();
          await run.close(); // idempotent
        }
      });
      assert.equal(result.progress.stage, 'done');
      assert.ok(typeof result.metrics.top1 === 'number');
      const found = await getSeptRun('api-run', { client: temporal.client });
      assert.deepEqual((await found.result()).metrics, result.metrics);
      await assert.rejects(getSeptRun('no-such-run', { client: temporal.client }), WorkflowNotFoundError);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved;
    }
  });

  it('progress() answers the progress query; cancel() stops the run', async () => {
    // trainModel has a progress query; with no sept-gpu worker it waits at pretrain, long enough to ask and cancel.
    const config = await smallConfig('api-progress');
    const error = await withWorkers(
      temporal,
      async () => {
        const run = await startWorkflowRun('trainModel', config, { client: temporal.client });
        const progress = await waitFor('the pretrain stage', async () => {
          const p = await run.progress().catch(() => undefined);
          return p?.stage === 'pretrain' ? p : undefined;
        });
        assert.deepEqual(progress.completed, []);
        await run.cancel();
        return run.result().then(() => undefined, (err: unknown) => err);
      },
      ['cpu'],
    );
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, String(error));
  });

  it('a bad argument after the configuration: the client API refuses it before starting, a workflow started from a raw client fails at once naming it', async () => {
    const config = parseRunConfig(await smallConfig('api-bad-options'));
    const options = { variant: '../../escape', window: 3 };
    const named = /trainModel argument 2 \(options\)\.variant: .*; trainModel argument 2 \(options\)\.window: unknown field/;
    await assert.rejects(startWorkflowRun('trainModel', config, { client: temporal.client, extraArgs: [options] }), (err: unknown) => err instanceof ConfigError && named.test(err.message));
    await assert.rejects(temporal.client.workflow.getHandle('api-bad-options').describe(), WorkflowNotFoundError);

    const error = await withWorkers(
      temporal,
      () => temporal.client.workflow.execute('trainModel', { taskQueue: CPU_QUEUE, workflowId: 'api-bad-options', args: [config, options] }).then(() => undefined, (err: unknown) => err),
      ['cpu'],
    );
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure, String(error));
    assert.equal(error.cause.type, 'InvalidRunConfig');
    assert.equal(error.cause.nonRetryable, true);
    assert.match(error.cause.message, /^invalid workflow arguments: /);
    assert.match(error.cause.message, named);
    const events = (await temporal.client.workflow.getHandle('api-bad-options').fetchHistory()).events ?? [];
    const ran = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    assert.deepEqual(ran, ['resolveRunConfig'], 'nothing ran but the validation');
    assert.deepEqual(events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt), [1], 'not retried');
  });
});
