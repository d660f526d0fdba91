import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { startDevServer } from '../../../infra/dev-server';
import { spawnWorker, type WorkerKind, type WorkerProcess } from '../../../infra/local-stack';
import type { RunConfigInput } from '../../../lib/config/schema';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { latestCheckpoint } from '../../../lib/trainer/checkpoints';
import type { SeptRunResult } from '../../../workflows/pipeline-types';
import { pipelineProgressQuery } from '../../../workflows/queries';
import type { septPipeline } from '../../../workflows/sept-pipeline';
import { pidsMatching, waitFor } from '../../support/processes';
import { startTestTemporal, type TestTemporal } from '../../support/temporal';
import { tempDir } from '../../support/tmp';
import { givenEncoder, smallPipelineConfig } from '../../support/small-run';

/**
 * Long enough pre-training to be interrupted; short timeouts so that lost work is retried in seconds.
 * Every run takes the same given encoder (stage 0 is not what they test), so the later runs'
 * figures must equal the first run's.
 */
const durable = async (name: string, encoder: RunConfigInput['encoder']) =>
  smallPipelineConfig(name, {
    pretrain: { steps: 60, batchSize: 32 },
    embed: { heartbeatTimeout: '10s' },
    trainer: { heartbeatTimeout: '10s', checkpointEverySteps: 4 },
    encoder,
  });

const figures = (r: SeptRunResult) => ({ subset: r.selection.stats.perSource, metrics: r.metrics });

/** Worker identities that started activities of the run's workflows, per task queue. */
async function activityWorkers(client: Client, workflowIds: string[]): Promise<Record<string, Set<string>>> {
  const byQueue: Record<string, Set<string>> = {};
  for (const id of workflowIds) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const queueOf = new Map(
      events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.taskQueue!.name!]),
    );
    for (const e of events) {
      const started = e.activityTaskStartedEventAttributes;
      if (!started) continue;
      const queue = queueOf.get(String(started.scheduledEventId))!;
      (byQueue[queue] ??= new Set()).add(started.identity!);
    }
  }
  return byQueue;
}

/** waitFor, but a run that ends first fails the wait with the run's own error instead of a timeout. */
async function waitWhileRunning<T>(handle: WorkflowHandle, what: string, check: () => Promise<T | undefined>): Promise<T> {
  return waitFor(
    what,
    async () => {
      if ((await handle.describe()).status.name !== 'RUNNING') {
        const ended = await handle.result().then(() => 'completed', (err: Error) => String(err.cause ?? err));
        throw new Error(`${handle.workflowId} ended before ${what}: ${ended}`);
      }
      return check();
    },
    300_000,
  );
}

describe('septPipeline survives its infrastructure: many workers, killed workers, a restarted server', () => {
  let temporal: TestTemporal;
  const dbFile = join(tempDir(), 'temporal.sqlite');
  const workers: WorkerProcess[] = [];
  const spawn = (kind: WorkerKind) => {
    const w = spawnWorker(kind, { address: temporal.server.address, logDir: tempDir() });
    workers.push(w);
    return w;
  };
  const start = (config: RunConfigInput, client = temporal.client) =>
    client.workflow.start<typeof septPipeline>('septPipeline', { taskQueue: CPU_QUEUE, workflowId: config.name!, args: [config] });

  // Made here, not in the hook, to live as long as the suite.
  const encoderDir = tempDir('encoder-');
  let encoder: RunConfigInput['encoder'];
  before(async () => {
    encoder = await givenEncoder(encoderDir);
    temporal = await startTestTemporal({ dbFile });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await temporal?.stop();
  });

  let reference: SeptRunResult;

  it('spreads the work over two sept-cpu and two sept-gpu workers', async () => {
    const config = await durable('spread', encoder);
    const pool = [spawn('cpu'), spawn('cpu'), spawn('gpu'), spawn('gpu')];
    reference = await (await start(config)).result();
    await Promise.all(pool.map((w) => w.stop()));
    const spread = await activityWorkers(temporal.client, ['spread', 'spread/embed', 'spread/select', 'spread/pretrain', 'spread/finetune']);
    console.log('activity workers per queue:', JSON.stringify(Object.fromEntries(Object.entries(spread).map(([q, ids]) => [q, [...ids]]))));
    // Embedding runs a window of shards at once: both CPU workers take some. Trainer jobs run one
    // after another, so which GPU worker takes each is up to the server.
    assert.equal(spread['sept-cpu']?.size, 2, 'both sept-cpu workers ran activities');
    assert.ok((spread['sept-gpu']?.size ?? 0) >= 1);
  });

  it('completes with the same result when both workers are killed mid-run and new ones start', async () => {
    const config = await durable('killed', encoder);
    const first = [spawn('cpu'), spawn('gpu')];
    const handle = await start(config);
    const trainDir = join(config.outputDir!, 'killed', 'train');
    const pretrainCheckpoint = async () => {
      const variant = existsSync(trainDir) ? readdirSync(trainDir).find((d) => d.startsWith('pretrain-')) : undefined;
      return variant ? latestCheckpoint(join(trainDir, variant, 'pretrain', 'checkpoints')) : undefined;
    };
    await waitWhileRunning(handle, 'a pre-training checkpoint', pretrainCheckpoint);
    await Promise.all(first.map((w) => w.stop('SIGKILL')));
    await waitFor('the orphaned trainer to exit', () => pidsMatching(join('killed', 'train')).length === 0, 60_000);
    spawn('cpu');
    spawn('gpu');
    const result = await handle.result();
    assert.ok(result.pretrain.progress.jobs.pretrain.attempt >= 2, 'the pre-training was retried');
    assert.ok(result.pretrain.progress.jobs.pretrain.resumedFromStep > 0, 'and resumed from its checkpoint');
    assert.equal(result.encoder.encoderId, reference.encoder.encoderId, 'the same given encoder');
    assert.deepEqual(figures(result), figures(reference), 'same subset and accuracy as the undisturbed run');
  });

  it('completes with the same result when the Temporal server restarts mid-run on the same SQLite file', async () => {
    const config = await durable('restart', encoder);
    const handle = await start(config);
    await waitWhileRunning(handle, 'the pre-training stage', async () => ((await handle.query(pipelineProgressQuery).catch(() => undefined))?.stage === 'pretrain' ? true : undefined));
    const port = Number(temporal.server.address.split(':').at(-1));
    await temporal.stop();
    const server = await startDevServer({ port, headless: true, dbFile, logFile: join(tempDir(), 'temporal.log') });
    const connection = await Connection.connect({ address: server.address });
    temporal = { server, client: new Client({ connection, namespace: server.namespace }), stop: async () => (await connection.close(), await server.stop()) };
    const result = await temporal.client.workflow.getHandle<typeof septPipeline>('restart').result();
    assert.deepEqual(figures(result), figures(reference));
  });
});
