import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnWorker } from '../../../infra/local-stack';
import { demoShards } from '../../../lib/demo/materialize';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { latestCheckpoint } from '../../../lib/trainer/checkpoints';
import type { trainModel } from '../../../workflows/train-model';
import { pidsMatching, waitFor } from '../../support/processes';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

describe('a killed sept-gpu worker', () => {
  const temporal = useTestTemporal();

  it('takes its trainer down with it, and a new worker resumes from the checkpoint after the heartbeat timeout', async () => {
    const outputDir = tempDir();
    const config = {
      name: 'kill-worker',
      outputDir,
      pool: { sources: [{ kind: 'webdataset' as const, name: 'mnist-part', shards: (await demoShards('mnist', 'train')).slice(0, 2) }] },
      target: { labelsPerClass: 5 },
      pretrain: { steps: 80, batchSize: 32 },
      finetune: { epochs: 1, batchSize: 25 },
      trainer: { checkpointEverySteps: 5, heartbeatTimeout: '10s', maxAttempts: 3, threads: 1 },
    };
    const trainerArgs = join('kill-worker', 'train', 'main', 'pretrain', 'pretrain.config.json');
    const logDir = tempDir();
    const first = spawnWorker('gpu', { address: temporal.server.address, logDir });
    let second: ReturnType<typeof spawnWorker> | undefined;
    try {
      const result = await withWorkers(
        temporal,
        async () => {
          const handle = await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: 'test/kill-gpu-worker', args: [config] });
          await waitFor('a first checkpoint', () => latestCheckpoint(join(outputDir, 'kill-worker', 'train', 'main', 'pretrain', 'checkpoints')));
          assert.equal(pidsMatching(trainerArgs).length, 1);
          await first.stop('SIGKILL');
          // The trainer notices its worker is gone, checkpoints and exits: no orphan keeps training.
          await waitFor('the orphaned trainer to exit', () => pidsMatching(trainerArgs).length === 0, 60_000);
          second = spawnWorker('gpu', { address: temporal.server.address, logDir });
          return handle.result();
        },
        ['cpu'],
      );
      assert.equal(result.progress.jobs.pretrain.attempt, 2);
      assert.ok(result.progress.jobs.pretrain.resumedFromStep >= 5, `resumed from ${result.progress.jobs.pretrain.resumedFromStep}`);
    } finally {
      await first.stop('SIGKILL');
      await second?.stop();
    }
  });
});
