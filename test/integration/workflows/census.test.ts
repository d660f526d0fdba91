import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ShardPlan } from '../../../lib/embed/shard-plan';
import { takeCensus } from '../../../lib/sources/census';
import { listAllShards } from '../../../lib/sources/list-shards';
import { CPU_QUEUE, GPU_QUEUE } from '../../../lib/temporal/queues';
import type { census as censusWorkflow } from '../../../workflows/census';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

describe('census workflow on a real dev server', () => {
  const temporal = useTestTemporal();

  it('lists shards on sept-cpu into a plan, counts labels on sept-gpu page by page of the plan by reference, and folds the pages', async () => {
    const workflowId = 'test/census';
    const census = await withWorkers(temporal, () =>
      temporal.client.workflow.execute<typeof censusWorkflow>('census', {
        taskQueue: CPU_QUEUE,
        workflowId,
        args: [{ pool: { sources: [{ kind: 'demo', dataset: 'mnist', split: 'all' }] }, target: { preset: 'mnist' }, outputDir: tempDir() }],
      }),
    );
    assert.equal(census.total, 10_000);
    assert.equal(Object.keys(census.sources.mnist.perLabel).length, 10);
    assert.deepEqual(census, await takeCensus(await listAllShards([{ kind: 'demo', dataset: 'mnist', split: 'all' }])), 'the same census as one count of every shard');

    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const queues = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => [e.activityTaskScheduledEventAttributes!.activityType!.name, e.activityTaskScheduledEventAttributes!.taskQueue!.name]);
    // The demo's 11 shards are two pages.
    assert.deepEqual(queues, [
      ['resolveRunConfig', CPU_QUEUE],
      ['planCensusShards', CPU_QUEUE],
      ['countLabelPage', GPU_QUEUE],
      ['countLabelPage', GPU_QUEUE],
      ['foldCensus', CPU_QUEUE],
    ]);
    // Each page's count is handed the plan's location and size, not the shards: the same few bytes for any pool.
    const counted = (history.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'countLabelPage');
    const [plan] = counted!.activityTaskScheduledEventAttributes!.input!.payloads!.map((p) => JSON.parse(Buffer.from(p.data!).toString()) as ShardPlan);
    assert.match(plan.path, /\/census-shards\.jsonl$/);
    assert.equal(plan.total, (await listAllShards([{ kind: 'demo', dataset: 'mnist', split: 'all' }])).length);
    assert.equal(plan.bytes, readFileSync(plan.path).length);
  });

  it('fails at once, not retryable, naming the field, when started with invalid input', async () => {
    const workflowId = 'test/census-invalid';
    const error = await withWorkers(temporal, () =>
      temporal.client.workflow
        .execute('census', { taskQueue: CPU_QUEUE, workflowId, args: [{ retrieval: { bugdet: 3 }, pool: { sources: [] } }] })
        .then(() => undefined, (err: unknown) => err),
    );
    assert.ok(error instanceof WorkflowFailedError, String(error));
    const cause = error.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.nonRetryable, true);
    assert.equal(cause.type, 'InvalidRunConfig');
    assert.match(cause.message, /retrieval\.bugdet: unknown field/);
    assert.match(cause.message, /pool\.sources:/);
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const events = history.events ?? [];
    const ran = events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    assert.deepEqual(ran, ['resolveRunConfig'], 'nothing ran but the resolution of the configuration');
    const attempts = events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    assert.deepEqual(attempts, [1], 'the resolution was not retried');
    assert.equal(events.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task retries');
  });

  it('fails non-retryably, naming the path, when a pool source does not exist', async () => {
    const error = await withWorkers(temporal, () =>
      temporal.client.workflow
        .execute<typeof censusWorkflow>('census', {
          taskQueue: CPU_QUEUE,
          workflowId: 'test/census-missing',
          // Under the data dir, where the worker lets runs read: missing, not refused.
          args: [{ pool: { sources: [{ kind: 'webdataset', shards: 'nonexistent/pool' }] }, target: { preset: 'mnist' } }],
        })
        .then(() => undefined, (err: unknown) => err),
    );
    assert.ok(error instanceof WorkflowFailedError);
    const failure = error.cause?.cause;
    assert.ok(failure instanceof ApplicationFailure, String(error.cause));
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /no such shard or folder: \/.*\/nonexistent\/pool/);
  });
});
