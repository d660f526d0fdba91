// dedupPool's plan: every query chunk joins every pool partition once, `retrieval.searchesPerExecution`
// joins an execution, which then continues as new with its plan; the edges are linked once, then
// dropped; groups already complete for the pool are reused without a join. Mocked activities on a
// real dev server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { resolveRunConfig } from '../../../activities/run-config';
import type { RunConfig, RunConfigInput } from '../../../lib/config/schema';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import type { DedupPlan } from '../../../lib/dedup/plan';
import { writeThumbnailEncoder } from '../../../lib/encoder/thumbnail';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { workerOptions } from '../../../workers/worker';
import type { dedupPool } from '../../../workflows/dedup-pool';
import { useTestTemporal } from '../../support/temporal';
import { workflowCode } from '../../../workers/workflow-bundle';
import { tempDir } from '../../support/tmp';

const PLAN = {
  run: 'dd',
  store: '/store',
  encoderId: 'enc',
  dim: 8,
  settings: { threshold: 0.95, method: 'auto', neighbours: 16 },
  groupsTable: 'dedup_x',
  workDir: '/out/dd/dedup',
  poolShards: { path: '/out/dd/dedup/pool-shards.jsonl', total: 3 },
  poolFingerprint: 'f',
  poolRows: 300,
  tableHasOtherRows: false,
  chunks: 3,
  partitions: 2,
  blockRows: 100,
  path: 'exact',
  complete: false,
} as DedupPlan;

describe('dedupPool (mocked activities)', () => {
  const calls = { joins: [] as string[], steps: [] as string[], plannedOn: undefined as string | undefined };
  let plan: DedupPlan = PLAN;
  const activities = {
    resolveRunConfig,
    async planDedup(config: RunConfig) {
      calls.steps.push('plan');
      calls.plannedOn = config.encoder.model;
      return plan;
    },
    async buildPoolIndex() {
      calls.steps.push('index');
      return { built: true, seconds: 0 };
    },
    async joinDedupChunk(_plan: DedupPlan, chunk: number, partition: number) {
      calls.joins.push(`${chunk}/${partition}`);
      return { edges: 1 };
    },
    async linkDuplicates() {
      calls.steps.push('link');
      return { groups: 1, removed: 1 };
    },
    async dropDedupEdges() {
      calls.steps.push('drop');
    },
    async reportDedup(p: DedupPlan) {
      calls.steps.push('report');
      return { groupsTable: p.groupsTable, groups: 1, removed: 1, reused: p.complete };
    },
  };
  const temporal = useTestTemporal();

  async function run(workflowId: string, searchesPerExecution: number, dedup: RunConfigInput['dedup'] = {}) {
    Object.assign(calls, { joins: [], steps: [], plannedOn: undefined });
    const handle = await temporal.client.workflow.start<typeof dedupPool>('dedupPool', {
      taskQueue: CPU_QUEUE,
      workflowId,
      args: [{ demo: true, name: 'dd', dedup: { enabled: true, ...dedup }, retrieval: { searchesPerExecution, window: 2 } }],
    });
    const connection = await NativeConnection.connect({ address: temporal.server.address });
    const worker = await Worker.create({ connection, ...workerOptions('cpu', workerSettingsFromEnv(), { workflowBundle: await workflowCode() }), activities });
    const result = await worker.runUntil(handle.result()).finally(() => connection.close());
    const executions: number[] = [];
    const historyOf = async (runId: string) => (await temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
    for (let runId: string | undefined = handle.firstExecutionRunId; runId; ) {
      const events = await historyOf(runId);
      executions.push(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'joinDedupChunk').length);
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    return { result, executions };
  }

  it('joins every chunk against every partition once, in executions of retrieval.searchesPerExecution joins, then links and reports', async () => {
    plan = PLAN;
    const { result, executions } = await run('dd/dedup', 4);
    assert.deepEqual(calls.joins.sort(), ['0/0', '0/1', '1/0', '1/1', '2/0', '2/1']);
    assert.deepEqual(executions, [4, 2]);
    assert.deepEqual(calls.steps, ['plan', 'link', 'drop', 'report'], 'planned once: the next execution takes the plan from its carry');
    assert.equal(result.reused, false);
  });

  it('builds the index first on the ann path, and reuses complete groups without a join', async () => {
    plan = { ...PLAN, path: 'ann', partitions: 1 };
    await run('dd/ann', 10);
    assert.deepEqual(calls.steps, ['plan', 'index', 'link', 'drop', 'report']);
    plan = { ...PLAN, complete: true };
    const { result } = await run('dd/reused', 10);
    assert.deepEqual(calls.joins, []);
    assert.deepEqual(calls.steps, ['plan', 'report']);
    assert.equal(result.reused, true);
  });

  it('started alone with dedup.encoder, plans on the copy detector, not the retrieval encoder', async () => {
    plan = { ...PLAN, complete: true };
    const detector = await writeThumbnailEncoder(tempDir(), { channels: 1, size: 28, cells: 14 });
    await run('dd/detector', 10, { encoder: { model: detector } });
    assert.equal(calls.plannedOn, detector);
    await run('dd/retrieval', 10);
    assert.equal(calls.plannedOn, undefined, "the demo's retrieval encoder: stage 0's, not named");
  });
});
