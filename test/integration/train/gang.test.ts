import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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

/** The parent process of `pid` (Linux /proc). */
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);

const STEPS = 80;

describe('a gang of two sept-gpu workers (trainer.nodes: 2)', () => {
  const temporal = useTestTemporal();

  // Node 1's death, and node 0's: the node whose address is the rendezvous and whose rank 0 writes the checkpoints.
  for (const killed of [1, 0]) it(`pre-trains as one job; when node ${killed}'s worker is killed, the gang resumes from the checkpoint on the workers that answer`, async () => {
    const outputDir = tempDir();
    const config = {
      name: `gang-${killed}`,
      outputDir,
      pool: { sources: [{ kind: 'webdataset' as const, name: 'mnist-part', shards: (await demoShards('mnist', 'train')).slice(0, 1) }] },
      target: { labelsPerClass: 2 },
      pretrain: { steps: STEPS, batchSize: 16 },
      trainer: { nodes: 2, rendezvousTimeout: '60s', checkpointEverySteps: 5, heartbeatTimeout: '5s', maxAttempts: 3, threads: 1 },
    };
    const checkpoints = join(outputDir, config.name, 'train', 'main', 'pretrain', 'checkpoints');
    // Two worker processes on this machine, reached on loopback; gloo between their trainers.
    const worker = () => spawnWorker('gpu', { address: temporal.server.address, logDir: tempDir(), env: { SEPT_NODE_ADDRESS: '127.0.0.1' } });
    const workers = [worker(), worker()];
    try {
      const result = await withWorkers(
        temporal,
        async () => {
          const handle = await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: `test/gang-${killed}`, args: [config, { pretrainOnly: true }] });
          const first = await waitFor('a first checkpoint of the gang', () => latestCheckpoint(checkpoints));
          // One trainer launcher per node, met at node 0's endpoint; one node's is killed with its worker.
          const launchers = pidsMatching(`--rdzv-id=test_gang-${killed}`).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('septtrainer.launch'));
          const victim = launchers.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`--node-rank=${killed}`));
          assert.equal(launchers.length, 2, `launchers ${launchers}`);
          const doomed = workers.find((w) => w.process.pid === parentOf(victim!));
          assert.ok(doomed, `node ${killed} runs under one of the two workers`);
          await doomed.stop('SIGKILL');
          const killedAt = await latestCheckpoint(checkpoints);
          assert.ok(killedAt && killedAt.step < STEPS, `killed mid-run, at ${killedAt?.step}`);
          // The gang cannot meet trainer.nodes with one worker: it waits for one to answer, as an autoscaler's replacement does.
          workers.push(worker());
          const done = await handle.result();
          assert.ok(first.step >= 5);
          return done;
        },
        ['cpu'],
      );
      assert.equal(result.progress.jobs.pretrain.attempt, 2, 'the second round finished the job');
      const resumed = result.progress.jobs.pretrain.resumedFromStep;
      assert.ok(resumed >= 5 && resumed < STEPS, `resumed from ${resumed}`);
      assert.ok(result.pretrainedCheckpoint);
      assert.equal(typeof result.metrics.knn_top1, 'number');
    } finally {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    }
  });

  it('runs no other trainer on its workers while it trains: a run from sept-gpu waits for a trainer slot', async () => {
    const outputDir = tempDir();
    const pool = { sources: [{ kind: 'webdataset' as const, name: 'mnist-part', shards: (await demoShards('mnist', 'train')).slice(0, 1) }] };
    const gang = { name: 'gang-slots', outputDir, pool, target: { labelsPerClass: 2 }, pretrain: { steps: 200, batchSize: 16 }, trainer: { nodes: 2, rendezvousTimeout: '60s', checkpointEverySteps: 5, threads: 1 } };
    // One trainer on one node, from sept-gpu: each worker polls that queue with a Temporal slot free while its gang node trains.
    const beside = { ...gang, name: 'beside', pretrain: { steps: 5, batchSize: 16 }, trainer: { threads: 1 } };
    const logDirs = [tempDir(), tempDir()];
    const workers = logDirs.map((logDir) => spawnWorker('gpu', { address: temporal.server.address, logDir, env: { SEPT_NODE_ADDRESS: '127.0.0.1' } }));
    try {
      await withWorkers(
        temporal,
        async () => {
          const start = (config: typeof gang | typeof beside) => temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: `test/${config.name}`, args: [config, { pretrainOnly: true }] });
          const ganged = await start(gang);
          await waitFor('a first checkpoint of the gang', () => latestCheckpoint(join(outputDir, gang.name, 'train', 'main', 'pretrain', 'checkpoints')));
          const other = await start(beside);
          await Promise.all([ganged.result(), other.result()]);
        },
        ['cpu'],
      );
      // The gang's last step ends on both nodes at once (its gradients are averaged across them).
      const gangEvents = readFileSync(join(outputDir, gang.name, 'train', 'main', 'pretrain', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; at: number });
      const gangLastStep = Math.max(...gangEvents.filter((e) => e.event === 'progress').map((e) => e.at));
      // When the other run's pre-training trainer started: the worker logs it once it holds a slot.
      const logged = logDirs.flatMap((dir) => readFileSync(join(dir, 'worker-gpu.log'), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; time: number; workflowId?: string; stage?: string }));
      const besideStarts = logged.filter((l) => l.msg === 'trainer starting' && l.workflowId === 'test/beside' && l.stage === 'pretrain');
      assert.equal(besideStarts.length, 1);
      assert.ok(besideStarts[0].time > gangLastStep, `the other run's trainer started ${gangLastStep - besideStarts[0].time} ms before the gang's last step`);
      assert.ok(logged.some((l) => l.msg === 'trainer waiting for a trainer slot of this worker' && l.workflowId === 'test/beside'), 'it waited for the slot');
    } finally {
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    }
  });
});
