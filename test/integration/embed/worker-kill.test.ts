// Fault injection: the `sept-cpu` worker process is SIGKILLed in the middle of embedPool and a new
// one takes over. Demo CNN test encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { spawnWorker, type WorkerProcess } from '../../../infra/local-stack';
import { decodeTimeoutType } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { DEMO_CNN } from '../../../lib/encoder/test-encoders';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { embedPool } from '../../../workflows/embed-pool';
import type { EmbedProgress } from '../../../workflows/embed-progress';
import { embedProgressQuery } from '../../../workflows/queries';
import { useTestTemporal } from '../../support/temporal';
import { workflowCode } from '../../../workers/workflow-bundle';
import { tempDir } from '../../support/tmp';
import { demoEmbedConfig, fashionShards, storedVectors } from '../../support/embedding';

describe('embedPool when its worker dies', () => {
  const workers: WorkerProcess[] = [];
  // Before the server stops: after hooks run in the order they are registered.
  after(() => Promise.all(workers.map((w) => w.stop('SIGKILL'))));
  const temporal = useTestTemporal();

  // The run takes 80 s on a quiet 2-core machine and up to 175 s beside other tests; a worker lost
  // with an activity must cost its heartbeat timeout (30 s at most), not the activity's
  // start-to-close (hours), which this limit still catches.
  it('completes on a new worker with exactly one row per sample', { timeout: 360_000 }, async () => {
    const dir = tempDir();
    // One embed thread and small batches stretch the run so the kill lands mid-way; short timeouts retry the killed attempts soon.
    const config = await demoEmbedConfig(dir, await fashionShards(20), {
      encoder: { threads: 1, batchSize: 32 },
      embed: { window: 4, shardsPerExecution: 8, heartbeatTimeout: '3s', commitTimeout: '10s' },
    });
    const spawn = () => {
      const worker = spawnWorker('cpu', { address: temporal.server.address, logDir: join(dir, 'logs') });
      workers.push(worker);
      return worker;
    };
    const first = spawn();
    const handle = await temporal.client.workflow.start<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: 'embed-fault', args: [config] });

    let progress: EmbedProgress | undefined;
    for (;;) {
      progress = await handle.query(embedProgressQuery).catch(() => undefined);
      if (progress && progress.shardsDone >= 3) break;
      const { status } = await handle.describe();
      assert.equal(status.name, 'RUNNING', 'embedPool ended before the kill');
      await sleep(100);
    }
    first.process.kill('SIGKILL');
    await first.stop();
    assert.ok(progress.shardsDone < progress.shardsTotal, 'killed before the end');

    spawn();
    const result = await handle.result();
    assert.equal(result.shards, 20);
    assert.equal(result.samplesEmbedded, 20_000);
    const stored = await storedVectors(config.store.uri, result.encoderId, DEMO_CNN.dims);
    assert.equal(stored.ids.length, 20_000, 'exact row count');
    assert.equal(new Set(stored.ids).size, 20_000, 'no duplicate ids');

    // Every attempt the dead worker held was given up on by its heartbeat timeout (the worker
    // heartbeats for every activity), never by a start-to-close sized for hours of work; commits
    // alone have a start-to-close of minutes instead (embed.commitTimeout, 10 s here). The retried
    // attempts' last failures say which timeout fired.
    const timeouts: string[] = [];
    const histories: { workflowId: string; history: Awaited<ReturnType<typeof handle.fetchHistory>> }[] = [];
    for await (const execution of temporal.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
      const history = await temporal.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      histories.push({ workflowId: `${execution.workflowId}/${execution.runId}`, history });
      const types = new Map<string, string>();
      for (const event of history.events ?? []) {
        const scheduled = event.activityTaskScheduledEventAttributes;
        if (scheduled) types.set(String(event.eventId), scheduled.activityType?.name ?? '?');
        const started = event.activityTaskStartedEventAttributes;
        const info = started?.lastFailure?.timeoutFailureInfo;
        if (info) timeouts.push(`${types.get(String(started.scheduledEventId))}: ${decodeTimeoutType(info.timeoutType)}`);
      }
    }
    const slow = timeouts.filter((t) => !t.endsWith(': HEARTBEAT') && t !== 'commitShards: START_TO_CLOSE');
    assert.deepEqual(slow, [], `timeouts of retried attempts: ${timeouts.join(', ')}`);

    // A kill, a new worker and queries all the while make histories that a quiet run never does
    // (a result recorded in one workflow task, the workflow's reaction in the next); each of them
    // must replay, or a later worker could not pick the run up.
    for await (const replay of Worker.runReplayHistories({ workflowBundle: await workflowCode() }, histories)) {
      assert.equal(replay.error, undefined, `${replay.workflowId} does not replay: ${replay.error?.message}`);
    }
  });
});
