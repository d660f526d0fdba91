// selectSubset's history stays bounded: `retrieval.searchesPerExecution` searches and merges an
// execution, which then continues as new with its plan, until every target chunk has searched every
// pool partition once and has been merged once. Mocked activities on a real dev server: the workflow's plan in seconds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { resolveRunConfig } from '../../../activities/run-config';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import type { SelectionPlan } from '../../../lib/selection/plan';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { workerOptions } from '../../../workers/worker';
import type { selectSubset } from '../../../workflows/select-subset';
import { useTestTemporal } from '../../support/temporal';
import { workflowCode } from '../../../workers/workflow-bundle';

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
  const calls = { plans: 0, searches: [] as string[], merges: [] as number[] };
  const copiedGroups: number[] = [];
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
    async mergeTargetChunk(_plan: SelectionPlan, _retrieval: unknown, chunk: number) {
      calls.merges.push(chunk);
      return { chunk, targets: 0, hits: 0 };
    },
    async selectFromMergedHits() {
      return { size: 10 };
    },
    async planSubsetGroups() {
      return { groups: 3, samples: 10, shards: 3 };
    },
    async writeSubsetGroup(_plan: SelectionPlan, group: number) {
      copiedGroups.push(group);
      return { samples: 4, shards: 1 };
    },
    async finishSubset(_plan: SelectionPlan, _config: unknown, subset: { samples: number }) {
      return { shards: '/out/sel/selection/shards/subset-{000000..000002}.tar', samples: subset.samples, manifest: '/m', stats: '/s' };
    },
    async dropSearchHits() {},
  };

  const temporal = useTestTemporal();

  /** Runs selectSubset to its end; returns its result and, per execution of the chain, the activities it scheduled by name. */
  async function runChain(workflowId: string, searchesPerExecution: number) {
    Object.assign(calls, { plans: 0, searches: [], merges: [] });
    const handle = await temporal.client.workflow.start<typeof selectSubset>('selectSubset', {
      taskQueue: CPU_QUEUE,
      workflowId,
      args: [{ demo: true, name: 'sel', retrieval: { searchesPerExecution, window: 2 } }],
    });
    const connection = await NativeConnection.connect({ address: temporal.server.address });
    const worker = await Worker.create({ connection, ...workerOptions('cpu', workerSettingsFromEnv(), { workflowBundle: await workflowCode() }), activities });
    const result = await worker.runUntil(handle.result()).finally(() => connection.close());
    const runs: { searches: number; merges: number }[] = [];
    const historyOf = async (runId: string) => (await temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
    for (let runId: string | undefined = handle.firstExecutionRunId; runId; ) {
      const events = await historyOf(runId);
      const scheduled = (name: string) => events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
      runs.push({ searches: scheduled('searchTargets'), merges: scheduled('mergeTargetChunk') });
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    return { result, runs };
  }

  it('searches every chunk against every partition once, in executions of retrieval.searchesPerExecution searches', async () => {
    const { result, runs } = await runChain('sel/select', 4);
    assert.equal(result.outputs.samples, 10);
    assert.deepEqual(calls.searches.sort(), ['0/0', '0/1', '0/2', '1/0', '1/1', '1/2']);
    assert.equal(calls.plans, 1, 'planned once: later executions take the plan from their carry');
    assert.deepEqual(copiedGroups.splice(0).sort(), [0, 1, 2], 'the subset copied group by group of pool shards, each once');

    // The chain of executions: 4 searches, then 2, the merge of both chunks and the selection.
    assert.deepEqual(runs.map((r) => r.searches), [4, 2]);
    assert.deepEqual(runs.map((r) => r.merges), [0, 2]);
  });

  it('merges each target chunk once, its merges counted with the searches of an execution', async () => {
    const { runs } = await runChain('sel/select-merges', 3);
    assert.deepEqual(calls.merges.sort(), [0, 1]);
    // 3 searches, 3 searches (no room left for a merge), then both merges in an execution of their own.
    assert.deepEqual(runs, [{ searches: 3, merges: 0 }, { searches: 3, merges: 0 }, { searches: 0, merges: 2 }]);
  });
});
