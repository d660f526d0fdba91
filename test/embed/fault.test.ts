// Fault injection: the `sept-cpu` worker process is SIGKILLed in the middle of embedPool and a new
// one takes over. Demo CNN test encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { spawnWorker, type WorkerProcess } from '../../infra/local-stack';
import { DEMO_CNN } from '../../lib/encoder/test-encoders';
import { CPU_QUEUE } from '../../lib/temporal/queues';
import type { EmbedPoolResult } from '../../workflows/embed-pool';
import type { EmbedProgress } from '../../workflows/embed-progress';
import { startTestTemporal, type TestTemporal } from '../support/temporal';
import { tempDir } from '../support/tmp';
import { demoEmbedConfig, fashionShards, storedVectors } from './support';

describe('embedPool when its worker dies', () => {
  let temporal: TestTemporal;
  const workers: WorkerProcess[] = [];
  before(async () => {
    temporal = await startTestTemporal();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await temporal?.stop();
  });

  it('completes on a new worker with exactly one row per sample', { timeout: 180_000 }, async () => {
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
    const handle = await temporal.client.workflow.start('embedPool', { taskQueue: CPU_QUEUE, workflowId: 'embed-fault', args: [config] });

    let progress: EmbedProgress | undefined;
    for (;;) {
      progress = await handle.query<EmbedProgress>('progress').catch(() => undefined);
      if (progress && progress.shardsDone >= 3) break;
      const { status } = await handle.describe();
      assert.equal(status.name, 'RUNNING', 'embedPool ended before the kill');
      await sleep(100);
    }
    first.process.kill('SIGKILL');
    await first.stop();
    assert.ok(progress.shardsDone < progress.shardsTotal, 'killed before the end');

    spawn();
    const result = (await handle.result()) as EmbedPoolResult;
    assert.equal(result.shards, 20);
    assert.equal(result.samplesEmbedded, 20_000);
    const stored = await storedVectors(config.store.uri, result.encoderId, DEMO_CNN.dims);
    assert.equal(stored.ids.length, 20_000, 'exact row count');
    assert.equal(new Set(stored.ids).size, 20_000, 'no duplicate ids');
  });
});
