import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { type DevServer, startDevServer } from '../../infra/dev-server';
import { cpuActivities, gpuActivities } from '../../activities';
import { Embedder } from '../../lib/embed/embedder';
import { CPU_QUEUE, GPU_QUEUE } from '../../lib/temporal/queues';
import { LOG_CONTEXT_INTERCEPTORS } from '../../workers/log-context';
import { GPU_WORKER_OPTIONS } from '../../workers/worker';

/** A real dev server of the project's pinned CLI, on free ports, with a client for the test. */
export interface TestTemporal {
  server: DevServer;
  client: Client;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * `ui`: serve the Web UI on a free port too (headless otherwise). `logger`: where workers in this
 * process log, set by the process's first call (default: warnings and errors only, so test output
 * stays readable).
 */
export async function startTestTemporal(opts: { dbFile?: string; ui?: boolean; logger?: Logger } = {}): Promise<TestTemporal> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: opts.logger ?? new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const server = await startDevServer({ port: 0, headless: !opts.ui, uiPort: 0, dbFile: opts.dbFile, logFile: join(tmpdir(), 'septflow-test-temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  return {
    server,
    client,
    async stop() {
      await connection.close();
      await server.stop();
    },
  };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow code bundled once per test process (bundling takes seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules: LOG_CONTEXT_INTERCEPTORS.workflowModules,
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

/**
 * Runs `fn` while in-process workers serve the test server: `sept-cpu` and `sept-gpu` by default;
 * a test that runs one queue in a separate process (to kill it) asks for the other only.
 */
export async function withWorkers<T>(t: TestTemporal, fn: () => Promise<T>, queues: ('cpu' | 'gpu')[] = ['cpu', 'gpu']): Promise<T> {
  const connection = await NativeConnection.connect({ address: t.server.address });
  // As workers/worker.ts; the workflow interceptors are in the bundle.
  const interceptors = { activity: LOG_CONTEXT_INTERCEPTORS.activity };
  try {
    const workers = [];
    if (queues.includes('cpu')) {
      workers.push(await Worker.create({ connection, taskQueue: CPU_QUEUE, workflowBundle: await workflowBundle(), activities: cpuActivities, interceptors }));
    }
    if (queues.includes('gpu')) {
      workers.push(await Worker.create({ connection, taskQueue: GPU_QUEUE, activities: gpuActivities, interceptors, ...GPU_WORKER_OPTIONS }));
    }
    const work = fn();
    const done = work.catch(() => undefined);
    // Let the workers shut down before the connection closes, whether the work failed or not.
    const [outcome] = await Promise.allSettled([work, ...workers.map((w) => w.runUntil(done))]);
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  } finally {
    await connection.close();
    // In-process embedding keeps onnxruntime threads; they would keep the test process alive.
    await Embedder.closeAll();
  }
}
