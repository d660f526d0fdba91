// trainGang's rounds, claims and failures: mocked activities on a real dev server, one worker per
// queue (the shared sept-gpu queue and each node's own), no trainer process.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { TrainerResult, TrainerTask } from '../../../activities/train';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import { parseRunConfig } from '../../../lib/config/validate';
import { CPU_QUEUE, GPU_QUEUE } from '../../../lib/temporal/queues';
import type { GangNode } from '../../../lib/trainer/gang';
import { workerOptions } from '../../../workers/worker';
import type { trainGang } from '../../../workflows/train-gang';
import { useTestTemporal } from '../../support/temporal';
import { workflowCode } from '../../../workers/workflow-bundle';

const node = (name: string): GangNode => ({ queue: `${GPU_QUEUE}/${name}`, address: `${name}.local`, port: 29400 });

/** What the nodes were asked to run, by node, and the claims answered. */
interface Seen {
  claims: number;
  places: Record<string, NonNullable<TrainerTask['gang']>[]>;
  cancelled: string[];
}

async function gang(id: string, trainer: Record<string, unknown>, answers: GangNode[], fails: (name: string, round: number, seen: Seen) => boolean) {
  const temporal = current!;
  const seen: Seen = { claims: 0, places: {}, cancelled: [] };
  const config = parseRunConfig({ demo: true, pretrain: { batchSize: 32 }, trainer: { nodes: 2, ...trainer } });
  const task: TrainerTask = { config, stage: 'pretrain', job: 'pretrain', train: config.pool.sources, numClasses: 10 };
  const nodeActivities = (name: string) => ({
    async runTrainer(t: TrainerTask): Promise<TrainerResult> {
      const places = (seen.places[name] ??= []);
      places.push(t.gang!);
      if (fails(name, places.length, seen)) throw ApplicationFailure.retryable(`node ${name} died`, 'TrainerFailed');
      // The others train a while, heartbeating as runTrainer's worker does, unless the gang cancels them.
      const ctx = Context.current();
      try {
        for (let beat = 0; beat < 15; beat++) {
          ctx.heartbeat();
          await ctx.sleep(100);
        }
      } catch (err) {
        seen.cancelled.push(name);
        throw err;
      }
      return { stage: 'pretrain', job: 'pretrain', metrics: { node: t.gang!.rank }, artifacts: [], attempt: 1 };
    },
  });
  const connection = await NativeConnection.connect({ address: temporal.server.address });
  try {
    const workers = [
      await Worker.create({ connection, ...workerOptions('cpu', workerSettingsFromEnv(), { workflowBundle: await workflowCode() }) }),
      await Worker.create({ connection, taskQueue: GPU_QUEUE, activities: { claimNode: async () => answers[seen.claims++ % answers.length] } }),
      ...['a', 'b', 'c'].map((name) => Worker.create({ connection, taskQueue: `${GPU_QUEUE}/${name}`, activities: nodeActivities(name), maxHeartbeatThrottleInterval: '100ms' })),
    ];
    const started = await Promise.all(workers);
    const handle = await temporal.client.workflow.start<typeof trainGang>('trainGang', { taskQueue: CPU_QUEUE, workflowId: id, args: [task] });
    const result = handle.result();
    const done = result.catch(() => undefined);
    await Promise.all(started.map((w) => w.runUntil(done)));
    const [outcome] = await Promise.allSettled([result]);
    return { outcome, seen };
  } finally {
    await connection.close();
  }
}

let current: ReturnType<typeof useTestTemporal> | undefined;

describe('trainGang (mocked activities)', () => {
  current = useTestTemporal();

  it('claims distinct workers, places node 0 as the rendezvous host, and starts a new round on the workers that answer when a node fails', async () => {
    // Worker a answers twice before b does; b dies in round 1, and c answers in its place.
    const answers = [node('a'), node('a'), node('b')];
    const { outcome, seen } = await gang('test/gang-rounds', { rendezvousTimeout: '30s' }, answers, (name, _, claims) => {
      if (name !== 'b') return false;
      answers.splice(0, answers.length, node('a'), node('c'));
      claims.claims = 0;
      return true;
    });
    assert.equal(outcome.status, 'fulfilled', String((outcome as PromiseRejectedResult).reason?.cause?.message));
    const result = (outcome as PromiseFulfilledResult<TrainerResult>).value;
    assert.equal(result.attempt, 2, 'the second round finished');
    assert.equal(result.metrics.node, 0, "node 0's result is the gang's");
    assert.deepEqual(seen.places.a.map((p) => [p.rank, p.nodes, p.endpoint]), [[0, 2, 'a.local:29400'], [0, 2, 'a.local:29400']]);
    assert.deepEqual(seen.places.b.map((p) => p.rank), [1]);
    assert.deepEqual(seen.places.c.map((p) => p.rank), [1]);
    assert.notEqual(seen.places.a[0].id, seen.places.a[1].id, 'a new rendezvous id each round');
    assert.deepEqual(seen.cancelled, ['a'], 'node a was cancelled when b failed');
  });

  it('fails, naming trainer.nodes and how many answered, when too few workers answer within the rendezvous timeout', async () => {
    const { outcome } = await gang('test/gang-too-few', { rendezvousTimeout: '3s' }, [node('a')], () => false);
    assert.equal(outcome.status, 'rejected');
    const err = (outcome as PromiseRejectedResult).reason;
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /^trainer\.nodes: 2 sept-gpu workers asked for, 1 answered within trainer\.rendezvousTimeout \(3s\)/);
  });

  it('stops after trainer.maxAttempts rounds, carrying the last cause', async () => {
    const { outcome, seen } = await gang('test/gang-rounds-spent', { rendezvousTimeout: '30s', maxAttempts: 2 }, [node('a'), node('b')], (name) => name === 'b');
    const err = (outcome as PromiseRejectedResult).reason;
    assert.match(String(err?.cause?.message), /^pretrain: all 2 rounds of the gang of 2 nodes failed \(trainer\.maxAttempts\); the last: node b died/);
    assert.equal(seen.places.b.length, 2);
  });
});
