import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { type DevServer, startDevServer } from '../../infra/dev-server';
import { cpuActivities, gpuActivities } from '../../activities';
import { Embedder } from '../../lib/embed/embedder';
import { CPU_QUEUE, GPU_QUEUE } from '../../lib/temporal/queues';
import { GPU_WORKER_OPTIONS } from '../../workers/worker';

/** A real dev server of the project's pinned CLI, on free ports, with a client for the test. */
export interface TestTemporal {
  server: DevServer;
  client: Client;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/** `ui`: serve the Web UI on a free port too (headless otherwise). */
export async function startTestTemporal(opts: { dbFile?: string; ui?: boolean } = {}): Promise<TestTemporal> {
  if (!runtimeInstalled) {
    // Workers in the test process log warnings and errors only, so test output stays readable.
    Runtime.install({ logger: new (await import('@temporalio/worker')).DefaultLogger('WARN') });
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
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new (require('@temporalio/worker').DefaultLogger)('WARN') });
  return bundle;
}

/**
 * Runs `fn` while in-process workers serve the test server: `sept-cpu` and `sept-gpu` by default;
 * a test that runs one queue in a separate process (to kill it) asks for the other only.
 */
export async function withWorkers<T>(t: TestTemporal, fn: () => Promise<T>, queues: ('cpu' | 'gpu')[] = ['cpu', 'gpu']): Promise<T> {
  const connection = await NativeConnection.connect({ address: t.server.address });
  try {
    const workers = [];
    if (queues.includes('cpu')) {
      workers.push(await Worker.create({ connection, taskQueue: CPU_QUEUE, workflowBundle: await workflowBundle(), activities: cpuActivities }));
    }
    if (queues.includes('gpu')) {
      workers.push(await Worker.create({ connection, taskQueue: GPU_QUEUE, activities: gpuActivities, ...GPU_WORKER_OPTIONS }));
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
