// Workers and clients reach Temporal over mutual TLS, configured only by Temporal's standard
// environment variables (or a profile file): a real dev server behind nginx that terminates TLS and
// verifies client certificates, real worker processes, a real workflow.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { type DevServer, startDevServer } from '../../../infra/dev-server';
import { spawnWorker, type WorkerProcess } from '../../../infra/local-stack';
import { startTlsProxy, type TlsProxy } from '../../../infra/tls-proxy';
import type { Census } from '../../../lib/sources/census';
import { demoShards } from '../../../lib/demo/materialize';
import { connectClient, connectConfig } from '../../../lib/temporal/connection';
import { CPU_QUEUE, GPU_QUEUE } from '../../../lib/temporal/queues';
import type { census as censusWorkflow } from '../../../workflows/census';
import { generateTestCerts, type TestCerts } from '../../support/certs';
import { waitFor } from '../../support/processes';
import { tempDir } from '../../support/tmp';

/** Runs `fn` with these environment variables set (undefined unsets one), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** Fails with the worker's exit code (and its log) if a worker process exits: a refused TLS handshake ends it. */
function exitOf(worker: WorkerProcess, logDir: string): Promise<never> {
  return new Promise((_, reject) =>
    worker.process.once('exit', (code) => {
      let tail = '';
      try {
        tail = readFileSync(join(logDir, `worker-${worker.kind}.log`), 'utf8').split('\n').slice(-5).join('\n');
      } catch {
        /* no log */
      }
      reject(new Error(`sept-${worker.kind} worker exited with code ${code}:\n${tail}`));
    }),
  );
}

const defined = (vars: Record<string, string | undefined>) => Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== undefined)) as Record<string, string>;

/**
 * Runs `census` (one activity on each queue) with a worker process per queue and a client, all
 * configured by `env` alone, and checks that every kind of call went through the proxy.
 */
async function censusThroughProxy(proxy: TlsProxy, env: Record<string, string | undefined>, logDir: string, workers: WorkerProcess[]): Promise<void> {
  for (const kind of ['cpu', 'gpu'] as const) {
    workers.push(spawnWorker(kind, { address: proxy.address, logDir, env: defined(env) }));
  }
  const pool = (await demoShards('mnist', 'train')).slice(0, 1);
  const workflowId = `test/census-${Date.now()}`;
  const started = Date.now();
  const { census, history } = await withEnv(env, async () => {
    const client = await connectClient();
    try {
      const run = client.workflow.execute<typeof censusWorkflow>('census', {
        taskQueue: CPU_QUEUE,
        workflowId,
        workflowExecutionTimeout: '3m',
        args: [{ pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: pool }] }, target: { preset: 'mnist' } }],
      });
      const census = (await Promise.race([run, ...workers.map((w) => exitOf(w, logDir))])) as Census;
      return { census, history: await client.workflow.getHandle(workflowId).fetchHistory() };
    } finally {
      await client.connection.close();
    }
  });
  console.log(`census through the proxy: ${Date.now() - started} ms (worker start included)`);
  assert.equal(census.total, 1000);
  assert.equal(Object.keys(census.sources['mnist-part'].perLabel).length, 10);

  // Every call went through the proxy: the workers polled both queues over it.
  const access = readFileSync(join(proxy.dir, 'access.log'), 'utf8');
  for (const method of ['PollWorkflowTaskQueue', 'PollActivityTaskQueue', 'RespondActivityTaskCompleted', 'StartWorkflowExecution']) {
    assert.match(access, new RegExp(`WorkflowService/${method} HTTP/2.0" 200`), `${method} through the proxy`);
  }
  const queues = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name);
  // Resolving the configuration and listing on sept-cpu, counting labels on sept-gpu (one page), folding the count on sept-cpu.
  assert.deepEqual(queues, [CPU_QUEUE, CPU_QUEUE, GPU_QUEUE, CPU_QUEUE]);
}

describe('mTLS to Temporal through nginx, configured by the environment', () => {
  const dir = tempDir('septflow-mtls-');
  let certs: TestCerts;
  let server: DevServer;
  let proxy: TlsProxy;
  const workers: WorkerProcess[] = [];

  /** Temporal's standard variables for a client holding the client certificate; the config file is pinned so a user's own is never read. */
  const tlsEnv = (): Record<string, string | undefined> => ({
    TEMPORAL_CONFIG_FILE: join(dir, 'no-such-temporal.toml'),
    TEMPORAL_PROFILE: undefined,
    TEMPORAL_API_KEY: undefined,
    TEMPORAL_TLS: undefined,
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  });

  before(async () => {
    certs = generateTestCerts(dir);
    server = await startDevServer({ port: 0, headless: true, logFile: join(dir, 'temporal.log') });
    proxy = await startTlsProxy({ upstream: server.address, certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.caCert });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await proxy?.stop();
    await server?.stop();
  });

  it('runs the census workflow with worker processes and a client that present the client certificate', async () => {
    await censusThroughProxy(proxy, tlsEnv(), join(dir, 'logs'), workers);
  });

  it('reads the same settings from a profile of a Temporal config file (TEMPORAL_PROFILE)', async () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      `[profile.mtls]\naddress = "${proxy.address}"\nnamespace = "default"\n[profile.mtls.tls]\n` +
        `client_cert_path = "${certs.clientCert}"\nclient_key_path = "${certs.clientKey}"\n` +
        `server_ca_cert_path = "${certs.caCert}"\nserver_name = "localhost"\n`,
    );
    const vars = Object.fromEntries(Object.keys(tlsEnv()).map((k) => [k, undefined]));
    await withEnv({ ...vars, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'mtls' }, async () => {
      const client = await connectClient();
      try {
        const info = await client.workflowService.getSystemInfo({});
        assert.ok(info.capabilities, 'the server answered through the proxy');
      } finally {
        await client.connection.close();
      }
      const native = await NativeConnection.connect(connectConfig().connectionOptions);
      await native.close();
    });
  });

  /**
   * Both connection kinds a process makes, a client (grpc-js) and a worker (Rust core), with what
   * nginx logged meanwhile, once it matches `shows` (or 10 s later). nginx logs a refusal when it
   * reads the peer's alert or request, which on a loaded machine can be after the peer's connect
   * has already failed here.
   */
  async function refusals(overrides: Record<string, string | undefined>, shows: RegExp): Promise<{ client: Error; worker: Error; proxyLog: string }> {
    const errorLog = join(proxy.dir, 'error.log');
    const before = readFileSync(errorLog, 'utf8').length;
    const proxyLog = () => readFileSync(errorLog, 'utf8').slice(before);
    return withEnv({ ...tlsEnv(), ...overrides }, async () => {
      const { connectionOptions } = connectConfig();
      const failure = (p: Promise<{ close(): Promise<void> }>) =>
        p.then(
          async (c) => {
            await c.close();
            throw new Error('connected, but the proxy should have refused');
          },
          (err: Error) => err,
        );
      const client = await failure(Connection.connect({ ...connectionOptions, connectTimeout: 5_000 }));
      const worker = await failure(NativeConnection.connect(connectionOptions));
      // Not shown in time: the caller's assertions say what the log lacks.
      await waitFor(`nginx to log ${shows}`, () => shows.test(proxyLog()), 10_000).catch(() => undefined);
      return { client, worker, proxyLog: proxyLog() };
    });
  }

  it('refuses a client without a client certificate', async () => {
    const noCertificate = /client sent no required SSL certificate while reading client request headers.*GetSystemInfo/;
    const { client, worker, proxyLog } = await refusals({ TEMPORAL_TLS_CLIENT_CERT_PATH: undefined, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined }, noCertificate);
    // nginx completes the handshake, then answers every request with HTTP 400 ("No required SSL certificate was sent").
    assert.equal(client.message, 'Failed to connect to Temporal server');
    assert.match(String(client.cause), /Received HTTP status code 400/);
    assert.match(worker.message, /GetSystemInfo.*400 Bad Request/);
    assert.match(proxyLog, noCertificate);
  });

  it('refuses to talk to a server whose certificate is signed by a CA the client does not trust', async () => {
    const { client, worker, proxyLog } = await refusals({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCaCert }, /alert unknown ca/);
    // grpc-js reports only that it never connected; the reason shows on the proxy's side: each
    // handshake aborted by the client, and no request ever reached the proxy.
    assert.equal(client.message, 'Failed to connect before the deadline');
    assert.match(worker.message, /InvalidCertificate\(UnknownIssuer\)/);
    assert.match(proxyLog, /peer closed connection in SSL handshake/);
    assert.match(proxyLog, /alert unknown ca/);
    assert.doesNotMatch(proxyLog, /request: "POST/);

    // A worker process configured so exits at once, saying why.
    const logDir = join(dir, 'logs-untrusted');
    const refused = spawnWorker('cpu', { address: proxy.address, logDir, env: defined({ ...tlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCaCert }) });
    const code = await new Promise<number | null>((resolve) => refused.process.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(readFileSync(join(logDir, 'worker-cpu.log'), 'utf8'), /InvalidCertificate\(UnknownIssuer\)/);
  });
});

describe('an API key to Temporal (as Temporal Cloud takes it) through nginx, configured by the environment', () => {
  const dir = tempDir('septflow-api-key-');
  const KEY = `septflow-test-${Date.now()}`;
  let certs: TestCerts;
  let server: DevServer;
  let proxy: TlsProxy;
  const workers: WorkerProcess[] = [];

  /** The variables a Temporal Cloud user sets; the CA is the test's because the proxy's certificate is, Cloud's is publicly trusted. */
  const keyEnv = (apiKey: string | undefined): Record<string, string | undefined> => ({
    TEMPORAL_CONFIG_FILE: join(dir, 'no-such-temporal.toml'),
    TEMPORAL_PROFILE: undefined,
    TEMPORAL_TLS: undefined,
    TEMPORAL_TLS_CLIENT_CERT_PATH: undefined,
    TEMPORAL_TLS_CLIENT_KEY_PATH: undefined,
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_API_KEY: apiKey,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  });

  before(async () => {
    certs = generateTestCerts(dir);
    server = await startDevServer({ port: 0, headless: true, logFile: join(dir, 'temporal.log') });
    proxy = await startTlsProxy({ upstream: server.address, certFile: certs.serverCert, keyFile: certs.serverKey, apiKey: KEY });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await proxy?.stop();
    await server?.stop();
  });

  it('runs the census workflow with worker processes and a client that send the key (TLS on by the key alone)', async () => {
    await censusThroughProxy(proxy, keyEnv(KEY), join(dir, 'logs'), workers);
  });

  it('refuses a wrong key and a missing one', async () => {
    for (const env of [keyEnv('not-the-key'), { ...keyEnv(undefined), TEMPORAL_TLS: 'true' }]) {
      await withEnv(env, async () => {
        const { connectionOptions } = connectConfig();
        await assert.rejects(Connection.connect({ ...connectionOptions, connectTimeout: 5_000 }), (err: Error) => {
          assert.equal(err.message, 'Failed to connect to Temporal server');
          assert.match(String(err.cause), /16 UNAUTHENTICATED: Received HTTP status code 401/);
          return true;
        });
        await assert.rejects(NativeConnection.connect(connectionOptions), (err: Error) => {
          assert.match(err.message, /GetSystemInfo.*status: 401 Unauthorized/);
          return true;
        });
      });
    }
  });
});
