// A recurring SEPT run as users schedule it: a schedule starts septPipeline; between two runs the
// pool folder gains a shard; the second run embeds only that shard (same encoder, so the old
// vectors stay valid) and selects again over the grown pool. The runs take a given encoder: a
// trained stage 0 reused by a second run is sept-pipeline.test.ts's.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { parseRunConfig } from '../../../lib/config/validate';
import { demoShards } from '../../../lib/demo/materialize';
import { PIPELINE_STAGES } from '../../../lib/pipeline/stages';
import { openStore } from '../../../lib/vectors/connect';
import { tableNames } from '../../../lib/vectors/tables';
import { createSchedule, describeSchedule, triggerSchedule } from '../../../lib/temporal/schedules';
import type { SeptRunResult } from '../../../workflows/pipeline-types';
import { givenEncoder, smallPipelineConfig } from '../../support/small-run';
import { waitFor } from '../../support/processes';
import { type TestTemporal, useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

/** Activities of one type that a workflow execution scheduled, from its history. */
async function scheduledActivities(temporal: TestTemporal, workflowId: string, type: string): Promise<number> {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
}

describe('a scheduled septPipeline over a growing pool', () => {
  const temporal = useTestTemporal();

  it('re-embeds only the new shard with the same encoder, and selects again', async () => {
    const poolDir = join(tempDir(), 'pool');
    mkdirSync(poolDir);
    const [mnist0, mnist1] = await demoShards('mnist', 'train');
    const [fashion0] = await demoShards('fashion-mnist', 'all');
    const addShard = (path: string, name: string) => symlinkSync(path, join(poolDir, `${name}-${basename(path)}`));
    addShard(mnist0, 'a');
    addShard(fashion0, 'b');

    const config = parseRunConfig(
      await smallPipelineConfig('nightly', {
        pool: { sources: [{ kind: 'webdataset', name: 'pool', shards: poolDir }] },
        encoder: await givenEncoder(),
        pretrain: { steps: 8, batchSize: 32 },
        finetune: { epochs: 1, batchSize: 25 },
      }),
    );
    // New Year at midnight: only triggers start runs during the test.
    await createSchedule(temporal.client, { scheduleId: 'nightly', config, cron: '0 0 1 1 *', overlap: 'skip' });

    const runs = await withWorkers(temporal, async () => {
      const runNumber = async (n: number): Promise<{ workflowId: string; result: SeptRunResult }> => {
        await triggerSchedule(temporal.client, 'nightly');
        const started = await waitFor(`scheduled run ${n}`, async () => (await describeSchedule(temporal.client, 'nightly')).info.recentActions[n - 1]?.action.workflow);
        const result = (await temporal.client.workflow.getHandle(started.workflowId, started.firstExecutionRunId).result()) as SeptRunResult;
        // The next trigger must not be skipped for overlap: wait until the schedule has seen this run end.
        await waitFor('the schedule to see the run finish', async () => (await describeSchedule(temporal.client, 'nightly')).info.runningActions.length === 0, 30_000);
        return { workflowId: started.workflowId, result };
      };
      const first = await runNumber(1);
      addShard(mnist1, 'c');
      const second = await runNumber(2);
      return { first, second };
    });
    const { first, second } = runs;
    assert.notEqual(first.workflowId, second.workflowId);

    assert.equal(first.result.embed.shards, 2);
    assert.equal(first.result.embed.samplesEmbedded, 2000);
    assert.equal(await scheduledActivities(temporal, `${first.workflowId}/embed`, 'embedShards'), 2);

    // The second run: no stage 0 (the encoder is given), one shard embedded, the rest skipped.
    assert.deepEqual(
      PIPELINE_STAGES.map((s) => second.result.progress.stages[s].status),
      ['skipped', 'done', 'done', 'done', 'done', 'done'],
    );
    await assert.rejects(temporal.client.workflow.getHandle(`${second.workflowId}/encoder`).describe(), WorkflowNotFoundError);
    assert.equal(second.result.encoder.encoderId, first.result.encoder.encoderId, 'the same encoder, so old vectors stay valid');
    assert.equal(await scheduledActivities(temporal, `${second.workflowId}/embed`, 'embedShards'), 1, 'only the new shard is embedded');
    assert.equal(second.result.embed.shards, 3);
    assert.equal(second.result.embed.samplesEmbedded, 3000);
    const vectors = await (await openStore(config.store.uri)).openTable(tableNames(second.result.embed.encoderId).vectors);
    // The table also holds the target's vectors (source `target`); the pool's ids start with its source name.
    assert.equal(await vectors.countRows("id LIKE 'pool/%'"), 3000, 'one row per pool image, none twice');

    // Selection ran again over the grown pool, and training followed it.
    assert.equal(first.result.selection.plan.poolRows, 2000);
    assert.equal(second.result.selection.plan.poolRows, 3000);
    assert.ok((second.result.selection.stats.perSource.pool ?? 0) > 0);
    assert.notEqual(second.result.pretrain.pretrainedCheckpoint, first.result.pretrain.pretrainedCheckpoint);
    assert.equal(typeof second.result.metrics.top1, 'number');
  });
});
