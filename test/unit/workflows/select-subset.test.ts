// selectSubset's history stays bounded: `retrieval.searchesPerExecution` searches an execution,
// which then continues as new with its plan, until every target chunk has searched every pool
// partition once. Mocked activities on a real dev server: the workflow's plan in seconds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { resolveRunConfig } from '../../../activities/run-config';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import type { SelectionPlan } from '../../../lib/selection/plan';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { workerOptions } from '../../../workers/worker';
import type { selectSubset } from '../../../workflows/select-subset';
import { useTestTemporal, workflowBundle } from '../../support/temporal';

const PLAN = {
  run: 'sel',
  store: '/store',
  encoderId: 'enc',
  dim: 8,
  workDir: '/out/sel/selection',
  targets: { train: 5, test: 0 },
  missingTargetVectors: 0,
  poolRows: 300,
  tableHasOtherRows: false,
  partitions: 3,
  chunks: 2,
  path: 'exact',
} as SelectionPlan;

describe('selectSubset (mocked activities)', () => {
  const calls = { plans: 0, searches: [] as string[] };
  const activities = {
    resolveRunConfig,
    async planSelection() {
      calls.plans++;
      return PLAN;
    },
    async searchTargets(_plan: SelectionPlan, _retrieval: unknown, chunk: number, partition: number) {
      calls.searches.push(`${chunk}/${partition}`);
      return { hits: 0 };
    },
    async selectSubsetFromHits() {
      return { size: 10 };
    },
    async materializeSubset() {
      return { shards: '/out/sel/selection/shards/subset-{000000..000000}.tar', samples: 10, manifest: '/m', stats: '/s' };
    },
    async dropSearchHits() {},
  };

  const temporal = useTestTemporal();

  it('searches every chunk against every partition once, in executions of retrieval.searchesPerExecution searches', async () => {
    const handle = await temporal.client.workflow.start<typeof selectSubset>('selectSubset', {
      taskQueue: CPU_QUEUE,
      workflowId: 'sel/select',
      args: [{ demo: true, name: 'sel', retrieval: { searchesPerExecution: 4, window: 2 } }],
    });
    const connection = await NativeConnection.connect({ address: temporal.server.address });
    const worker = await Worker.create({ connection, ...workerOptions('cpu', workerSettingsFromEnv(), { workflowBundle: await workflowBundle() }), activities });
    const result = await worker.runUntil(handle.result()).finally(() => connection.close());
    assert.equal(result.outputs.samples, 10);
    assert.deepEqual(calls.searches.sort(), ['0/0', '0/1', '0/2', '1/0', '1/1', '1/2']);
    assert.equal(calls.plans, 1, 'planned once: later executions take the plan from their carry');

    // The chain of executions: 4 searches, then 2 and the selection.
    const searchesPerRun: number[] = [];
    const historyOf = async (runId: string) => (await temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
    for (let runId: string | undefined = handle.firstExecutionRunId; runId; ) {
      const events = await historyOf(runId);
      searchesPerRun.push(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'searchTargets').length);
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    assert.deepEqual(searchesPerRun, [4, 2]);
  });
});
