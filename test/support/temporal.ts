import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { type DevServer, startDevServer } from '../../infra/dev-server';
import { workerSettingsFromEnv } from '../../lib/config/worker-settings';
import { Embedder } from '../../lib/embed/embedder';
import { workerOptions } from '../../workers/worker';
import { workflowCode } from '../../workers/workflow-bundle';

/** A real dev server of the project's pinned CLI, on free ports, with a client for the test. */
export interface TestTemporal {
  server: DevServer;
  client: Client;
  stop(): Promise<void>;
}

/**
 * `ui`: serve the Web UI on a free port too (headless otherwise). `logger`: where workers in this
 * process log, set by the process's first call (default: warnings and errors only, so test output
 * stays readable).
 */
export interface TestTemporalOptions {
  dbFile?: string;
  ui?: boolean;
  logger?: Logger;
}

let runtimeInstalled = false;

export async function startTestTemporal(opts: TestTemporalOptions = {}): Promise<TestTemporal> {
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

/**
 * The dev server of the test file or suite this is called in: its `before` hook starts it, its
 * `after` hook stops it. The fields are there from that `before` on (in tests and later hooks).
 * `after` hooks run in the order they are registered, so teardown that needs the server (worker
 * processes connected to it) is registered before this call.
 */
export function useTestTemporal(opts: TestTemporalOptions = {}): TestTemporal {
  let started: TestTemporal | undefined;
  before(async () => {
    started = await startTestTemporal(opts);
  });
  after(async () => started?.stop());
  const current = (): TestTemporal => {
    if (!started) throw new Error('the test dev server is not started: use it in tests and hooks, not while the file loads');
    return started;
  };
  return {
    get server() {
      return current().server;
    },
    get client() {
      return current().client;
    },
    stop: () => current().stop(),
  };
}

/**
 * Runs `fn` while in-process workers serve the test server: `sept-cpu` and `sept-gpu` by default;
 * a test that runs one queue in a separate process (to kill it) asks for the other only.
 */
export async function withWorkers<T>(t: TestTemporal, fn: () => Promise<T>, queues: ('cpu' | 'gpu')[] = ['cpu', 'gpu']): Promise<T> {
  const connection = await NativeConnection.connect({ address: t.server.address });
  const settings = workerSettingsFromEnv();
  try {
    const workers = [];
    if (queues.includes('cpu')) workers.push(await Worker.create({ connection, ...workerOptions('cpu', settings, { workflowBundle: await workflowCode() }) }));
    if (queues.includes('gpu')) workers.push(await Worker.create({ connection, ...workerOptions('gpu', settings) }));
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
