// Worker telemetry: the Temporal SDK's Prometheus endpoint of a real worker process, septflow's own
// metrics recorded from an activity, and the workflow context carried by activity log lines.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { log as activityLog } from '@temporalio/activity';
import { NativeConnection, type Runtime, Worker } from '@temporalio/worker';
import { gpuActivities } from '../../../activities';
import { type DevServer, freePort, startDevServer } from '../../../infra/dev-server';
import { spawnWorker, type WorkerProcess } from '../../../infra/local-stack';
import type { Census } from '../../../lib/sources/census';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import { demoShards } from '../../../lib/demo/materialize';
import type { PinoTemporalLogger } from '../../../lib/temporal/logger';
import { CPU_QUEUE, GPU_QUEUE } from '../../../lib/temporal/queues';
import { recordEmbedded, recordQuarantined, recordTrainerProgress } from '../../../lib/telemetry/metrics';
import { installRuntime, metricsBindAddress } from '../../../workers/telemetry';
import { workerOptions } from '../../../workers/worker';
import type { census as censusWorkflow } from '../../../workflows/census';
import { waitFor } from '../../support/processes';
import { tempDir } from '../../support/tmp';

async function scrape(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Samples of one metric as `{labels} value` lines, e.g. `sept_images_embedded{activityType="countLabelPage",...} 1000`. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** Metrics a Temporal worker exports as soon as it polls (SDK 1.24 core, default `temporal_` prefix). */
const SDK_METRICS = ['temporal_worker_start', 'temporal_request', 'temporal_num_pollers', 'temporal_worker_task_slots_available'];

describe('worker metrics and log context', () => {
  const dir = tempDir('septflow-metrics-');
  const logDir = join(dir, 'logs');
  let server: DevServer;
  let cpuWorker: WorkerProcess;
  let cpuPort: number;
  let gpuPort: number;
  let client: Client;

  before(async () => {
    server = await startDevServer({ port: 0, headless: true, logFile: join(dir, 'temporal.log') });
    cpuPort = await freePort();
    // A real sept-cpu worker process, as deployed: metrics on SEPT_METRICS_PORT, JSON logs at debug level.
    cpuWorker = spawnWorker('cpu', { address: server.address, logDir, env: { SEPT_METRICS_PORT: String(cpuPort), LOG_LEVEL: 'debug' } });
    client = new Client({ connection: await Connection.connect({ address: server.address }), namespace: server.namespace });
  });
  after(async () => {
    await client?.connection.close();
    await cpuWorker?.stop();
    await server?.stop();
  });

  it('reads the bind address from SEPT_METRICS_ADDRESS or SEPT_METRICS_PORT', () => {
    assert.equal(metricsBindAddress({}), undefined);
    assert.equal(metricsBindAddress({ SEPT_METRICS_PORT: '9464' }), '0.0.0.0:9464');
    assert.equal(metricsBindAddress({ SEPT_METRICS_PORT: '9464', SEPT_METRICS_ADDRESS: '127.0.0.1:9000' }), '127.0.0.1:9000');
    assert.throws(() => metricsBindAddress({ SEPT_METRICS_PORT: 'ninety' }), /SEPT_METRICS_PORT=ninety/);
    assert.throws(() => metricsBindAddress({ SEPT_METRICS_ADDRESS: '9464' }), /host:port/);
  });

  it('a worker process serves the SDK metrics on SEPT_METRICS_PORT', async () => {
    const started = Date.now();
    // The pollers' gauges appear one poller type at a time as the worker starts polling: the
    // endpoint is read until the workflow-task poller's is there (a first read could hold the
    // activity poller's alone).
    const workflowPoller = (t: string) => samples(t, 'temporal_num_pollers').some((l) => l.includes('poller_type="workflow_task"'));
    const text = await waitFor('the worker metrics endpoint, with a workflow-task poller', async () => {
      const t = await scrape(cpuPort);
      return t && SDK_METRICS.every((name) => samples(t, name).length > 0) && workflowPoller(t) ? t : undefined;
    }, 60_000);
    console.log(`metrics endpoint answered ${Date.now() - started} ms after the worker was spawned`);
    assert.match(samples(text, 'temporal_worker_start')[0], /task_queue="sept-cpu"/);
  });

  it('exports workflow and activity metrics, septflow metrics from an activity, and logs with workflow context', async () => {
    // The sept-gpu side runs in this process, through the same runtime installation as a worker
    // process (workers/telemetry.ts), with an activity that records septflow's metrics the way the
    // embedding and trainer activities do.
    gpuPort = await freePort();
    process.env.SEPT_METRICS_PORT = String(gpuPort);
    let runtime: Runtime;
    try {
      runtime = installRuntime('gpu');
    } finally {
      delete process.env.SEPT_METRICS_PORT;
    }
    // What reaches the pino logger (PinoTemporalLogger.log) from this process, as [message, metadata].
    const logged: [string, Record<string, unknown>][] = [];
    const logger = runtime.logger as PinoTemporalLogger;
    const toPino = logger.log.bind(logger);
    logger.log = (level, message, meta) => {
      logged.push([message, { ...meta }]);
      toPino(level, message, meta);
    };
    const connection = await NativeConnection.connect({ address: server.address });
    const pool = (await demoShards('mnist', 'train')).slice(0, 1);
    const workflowId = 'test/metrics-census';
    let census: Census;
    let gpuText: string;
    try {
      const gpuWorker = await Worker.create({
        connection,
        ...workerOptions('gpu', workerSettingsFromEnv()),
        activities: {
          ...gpuActivities,
          async countLabelPage(...args: Parameters<typeof gpuActivities.countLabelPage>): Promise<{ samples: number }> {
            const result = await gpuActivities.countLabelPage(...args);
            activityLog.info('labels counted', { total: result.samples });
            recordEmbedded(result.samples);
            recordQuarantined(3);
            recordTrainerProgress(40, 812.5);
            recordTrainerProgress(-5, null);
            return result;
          },
        },
      });
      census = await gpuWorker.runUntil(
        client.workflow.execute<typeof censusWorkflow>('census', {
          taskQueue: CPU_QUEUE,
          workflowId,
          workflowExecutionTimeout: '2m',
          args: [{ pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: pool }] }, target: { preset: 'mnist' } }],
        }),
      );
      // The runtime (and its metrics endpoint) shuts down with its last connection: scrape first.
      gpuText = (await scrape(gpuPort)) ?? '';
    } finally {
      await connection.close();
    }
    assert.equal(census.total, 1000);

    const cpuText = await waitFor('workflow metrics of the worker process', async () => {
      const t = await scrape(cpuPort);
      return t && samples(t, 'temporal_workflow_completed').some((l) => l.includes('workflow_type="census"')) ? t : undefined;
    }, 30_000);
    assert.ok(samples(cpuText, 'temporal_activity_execution_latency_count').some((l) => l.includes('activity_type="planCensusShards"')), 'activity latency by type');

    const sept = gpuText.split('\n').filter((l) => l.includes('sept_'));
    console.log(`septflow metrics:\n${sept.join('\n')}`);
    const one = (name: string) => {
      const lines = samples(gpuText, name);
      assert.equal(lines.length, 1, `${name}: ${lines.join(' | ')}`);
      assert.match(lines[0], /activityType="countLabelPage"/);
      assert.match(lines[0], /taskQueue="sept-gpu"/);
      assert.match(lines[0], /namespace="default"/);
      return Number(lines[0].split(' ').at(-1));
    };
    assert.equal(one('sept_images_embedded'), 1000);
    assert.equal(one('sept_samples_quarantined'), 3);
    assert.equal(one('sept_trainer_steps'), 40);
    assert.equal(one('sept_trainer_images_per_second'), 812.5);

    // Activity log lines of the worker process carry the workflow and the activity they belong to.
    const lines = readFileSync(join(logDir, 'worker-cpu.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const completed = lines.find((l) => l.msg === 'Activity completed' && l.activityType === 'planCensusShards');
    assert.ok(completed, 'an "Activity completed" line for planCensusShards');
    console.log('activity log line:', JSON.stringify(completed));
    for (const [key, value] of Object.entries({ workflowId, workflowType: 'census', taskQueue: CPU_QUEUE, namespace: 'default', queue: 'cpu' })) {
      assert.equal(completed[key], value, key);
    }
    for (const key of ['workflowRunId', 'activityId', 'attempt', 'durationMs']) assert.ok(completed[key] !== undefined, key);
    const workflowLine = lines.find((l) => l.msg === 'Workflow completed' && l.workflowId === workflowId);
    assert.ok(workflowLine, 'workflow log lines carry the workflow id');
    console.log('workflow log line:', JSON.stringify(workflowLine));
    assert.equal(workflowLine.workflowType, 'census');
    assert.ok(workflowLine.runId, 'run id');

    // What activity code logs through the context logger (runTrainer does) carries the same context.
    const own = logged.find(([message]) => message === 'labels counted');
    assert.ok(own, 'the activity\'s own line reached the runtime logger');
    for (const [key, value] of Object.entries({ total: 1000, workflowId, workflowType: 'census', activityType: 'countLabelPage', taskQueue: GPU_QUEUE, sdkComponent: 'activity' })) {
      assert.equal(own[1][key], value, key);
    }
  });
});
