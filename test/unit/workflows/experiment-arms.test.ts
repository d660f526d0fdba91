// The experiment's arms in seconds (workflows/sept-experiment.ts): the real septExperiment on a real
// dev server, its children stand-ins (test/support/stub-children.ts) and its activities mocked. Each
// selection arm gets its own selection, of the run's configuration changed as the arm says; the
// pool is deduplicated once; every arm's near-duplicates are counted once per distinct data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { resolveRunConfig } from '../../../activities/run-config';
import type { SourceSpec } from '../../../lib/config/sources';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import type { ExperimentRow } from '../../../lib/report/types';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { workerOptions } from '../../../workers/worker';
import type { septExperiment } from '../../../workflows/sept-experiment';
import { useTestTemporal } from '../../support/temporal';

describe("the experiment's arms (mocked activities)", () => {
  const temporal = useTestTemporal();

  it('selects once per selection arm under its own name, deduplicates the pool once, and counts duplicates per distinct data', async () => {
    const counted: string[] = [];
    const activities = {
      resolveRunConfig,
      checkRunInputs: async () => ({}),
      poolComposition: async () => ({ pool: 100 }),
      async armDuplicates(_config: unknown, encoderId: string, sources: SourceSpec[]) {
        assert.equal(encoderId, 'enc');
        const names = sources.map((s) => ('shards' in s ? String(s.shards) : s.kind));
        counted.push(names.join(','));
        return { images: 10, duplicates: names.some((n) => n.includes('-dedup/')) ? 0 : 2 };
      },
      writeExperiment: async (input: { rows: ExperimentRow[] }) => ({ markdown: 'results.md', json: 'results.json', table: JSON.stringify(input.rows.length) }),
    };
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../support/stub-children'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
    const handle = await temporal.client.workflow.start<typeof septExperiment>('septExperiment', {
      taskQueue: CPU_QUEUE,
      workflowId: 'arms-experiment',
      args: [{ demo: true, name: 'arms' }, { seeds: [0, 1], arms: ['none', 'sept', 'diverse', 'cluster', 'dedup', 'pool'] }],
    });
    const connection = await NativeConnection.connect({ address: temporal.server.address });
    const worker = await Worker.create({ connection, ...workerOptions('cpu', workerSettingsFromEnv(), { workflowBundle: bundle }), activities });
    const result = await worker.runUntil(handle.result()).finally(() => connection.close());

    const row = (arm: string, seed: number) => result.rows.find((r) => r.arm === arm && r.seed === seed)!;
    // Each selection arm trained on its own selection: the stand-in names its source by policy and dedup.
    assert.deepEqual(row('sept', 0).composition, { budget: 10 });
    assert.deepEqual(row('diverse', 1).composition, { diverse: 10 });
    assert.deepEqual(row('cluster', 0).composition, { cluster: 10 });
    assert.deepEqual(row('dedup', 1).composition, { 'budget+dedup': 10 });
    assert.deepEqual(row('pool', 0).composition, { pool: 100 });
    // The children: one dedupPool, and one selectSubset per selection arm, the sept arm's under the id of executions before the arms.
    for (const [child, type] of [['dedup', 'dedupPool'], ['select', 'selectSubset'], ['select-diverse', 'selectSubset'], ['select-cluster', 'selectSubset'], ['select-dedup', 'selectSubset']]) {
      assert.equal((await temporal.client.workflow.getHandle(`arms-experiment/${child}`).describe()).type, type);
    }
    // Counted once per arm's data, not once per seed; no pre-training, no count.
    assert.deepEqual(counted.sort(), [
      '/runs/arms-cluster/subset-000000.tar',
      '/runs/arms-dedup/subset-000000.tar',
      '/runs/arms-diverse/subset-000000.tar',
      '/runs/arms/subset-000000.tar',
      'demo,demo,demo',
    ]);
    assert.equal(row('none', 0).duplicates, 0);
    assert.equal(row('sept', 1).duplicates, 2);
    assert.equal(row('dedup', 0).duplicates, 0);
    assert.equal(result.rows.length, 12);
  });
});
