import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { spawnWorker, type WorkerProcess } from '../../../infra/local-stack';
import type { RunConfigInput } from '../../../lib/config/schema';
import { demoShards } from '../../../lib/demo/materialize';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { latestCheckpoint } from '../../../lib/trainer/checkpoints';
import type { trainModel } from '../../../workflows/train-model';
import { pidsMatching, waitFor } from '../../support/processes';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

interface TrainerEvent {
  event: string;
  step?: number;
  attempt: number;
}

const GRACE_S = 60;

function exited(worker: WorkerProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = worker.process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('a sept-gpu worker told to stop', () => {
  const temporal = useTestTemporal();

  it('has its trainer checkpoint at once, fails the attempt retryably within the grace, and the next worker resumes there', async () => {
    const outputDir = tempDir();
    const config: RunConfigInput = {
      name: 'graceful',
      outputDir,
      pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: (await demoShards('mnist', 'train')).slice(0, 2) }] },
      target: { labelsPerClass: 5 },
      // The stop is asked at step 10 and lands a step later (about 0.2 s a step here): the rest is margin.
      pretrain: { steps: 100, batchSize: 32 },
      finetune: { epochs: 1, batchSize: 25 },
      // No periodic checkpoint before the end: the only mid-run one is the stop checkpoint.
      trainer: { checkpointEverySteps: 1000, heartbeatTimeout: '5m', maxAttempts: 3, threads: 1 },
    };
    const stageDir = join(outputDir, 'graceful', 'train', 'main', 'pretrain');
    const eventsFile = join(stageDir, 'events.jsonl');
    // Complete lines only: the activity may be writing the next one.
    const events = (): TrainerEvent[] =>
      (existsSync(eventsFile) ? readFileSync(eventsFile, 'utf8').split('\n').slice(0, -1) : []).map((l) => JSON.parse(l) as TrainerEvent);
    const trainerProcesses = () => pidsMatching(join('graceful', 'train', 'main', 'pretrain', 'pretrain.config.json'));

    const logDir = tempDir();
    const env = { SEPT_SHUTDOWN_GRACE: `${GRACE_S}s` };
    const first = spawnWorker('gpu', { address: temporal.server.address, logDir, env });
    let second: WorkerProcess | undefined;
    try {
      const workflowId = 'test/graceful-shutdown';
      const result = await withWorkers(
        temporal,
        async () => {
          const handle = await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId, args: [config] });
          const seen = await waitFor('the trainer past step 10', () => events().find((e) => e.event === 'progress' && e.step! >= 10), 180_000);
          assert.equal(trainerProcesses().length, 1, 'one trainer runs');
          assert.equal(await latestCheckpoint(join(stageDir, 'checkpoints')), undefined, 'no checkpoint yet');

          const stopAsked = Date.now();
          first.process.kill('SIGTERM');
          const exit = await exited(first);
          const seconds = (Date.now() - stopAsked) / 1000;
          console.log(`sept-gpu worker exited ${JSON.stringify(exit)} ${seconds.toFixed(1)} s after SIGTERM (grace ${GRACE_S} s)`);
          assert.deepEqual(exit, { code: 0, signal: null }, 'a clean exit: drained, not forced');
          assert.ok(seconds < GRACE_S, `exited within the grace (${seconds.toFixed(1)} s)`);
          assert.deepEqual(trainerProcesses(), [], 'the trainer has exited with its worker');

          // The trainer's last word is the stop checkpoint, at the step it had reached: not step 0.
          const stopped = events();
          const last = stopped.at(-1)!;
          assert.equal(last.event, 'checkpoint');
          assert.ok(last.step! >= seen.step!, `stop checkpoint at step ${last.step}, trainer had reached ${seen.step}`);
          const saved = await latestCheckpoint(join(stageDir, 'checkpoints'));
          assert.equal(saved?.step, last.step, 'the checkpoint file is the stop checkpoint');
          assert.ok(!stopped.some((e) => e.event === 'artifact'), 'the pretrain had not finished');
          console.log(`stop checkpoint at step ${last.step} (trainer was at step ${seen.step} when the stop was asked)`);

          // The attempt failed retryably, as a worker shutdown (not a cancel); attempt 2 waits for a worker.
          const pending = await waitFor('the retry of runTrainer', async () => {
            const info = await handle.describe();
            const activity = info.raw.pendingActivities?.find((a) => a.activityType?.name === 'runTrainer');
            return activity?.attempt === 2 ? activity : undefined;
          });
          assert.equal(pending.lastFailure?.applicationFailureInfo?.type, 'WorkerShutdown', pending.lastFailure?.message ?? '');
          assert.equal(pending.lastFailure?.applicationFailureInfo?.nonRetryable ?? false, false);
          assert.match(pending.lastFailure?.message ?? '', new RegExp(`step ${last.step}\\b`));
          const beat = pending.heartbeatDetails?.payloads?.[0];
          assert.equal(beat && defaultPayloadConverter.fromPayload<{ checkpointStep?: number }>(beat).checkpointStep, last.step, 'the heartbeat carries the stop checkpoint');

          second = spawnWorker('gpu', { address: temporal.server.address, logDir, env });
          const result = await handle.result();
          // The second attempt continued after the stop checkpoint.
          const resumed = events().slice(stopped.length).find((e) => e.event === 'progress');
          assert.ok(resumed && resumed.attempt === 2 && resumed.step! > last.step!, `resumed at step ${resumed?.step} (attempt ${resumed?.attempt})`);
          return Object.assign(result, { stopStep: last.step! });
        },
        ['cpu'],
      );
      assert.equal(result.progress.jobs.pretrain.attempt, 2);
      assert.equal(result.progress.jobs.pretrain.resumedFromStep, result.stopStep);
      assert.ok(result.stopStep > 0);
    } finally {
      await first.stop('SIGKILL');
      await second?.stop();
    }
  });
});
