import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { moduleArgs, projectRoot } from '../lib/paths';
import { type DevServer, type DevServerOptions, logOutput, startDevServer, stopProcess, temporalAnswers } from './dev-server';

export type WorkerKind = 'cpu' | 'gpu';

export interface WorkerProcess {
  kind: WorkerKind;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a worker as its own process, as in production; output goes to a log file or is inherited.
 * `wrapper`: a program and its arguments that the worker runs under (a tracer); `process` is then
 * the wrapper's, and signals reach the worker only as far as the wrapper passes them on.
 */
export function spawnWorker(kind: WorkerKind, opts: { address: string; namespace?: string; logDir?: string; env?: NodeJS.ProcessEnv; wrapper?: string[] }): WorkerProcess {
  const [command, ...args] = [...(opts.wrapper ?? []), process.execPath, ...moduleArgs(`workers/${kind}`)];
  const child = spawn(command, args, {
    cwd: projectRoot,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: opts.address,
      TEMPORAL_NAMESPACE: opts.namespace ?? 'default',
      ...(opts.logDir ? { SEPT_LOG_FORMAT: 'json' } : {}),
      ...opts.env,
    },
    stdio: opts.logDir ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
  if (opts.logDir) logOutput(child, join(opts.logDir, `worker-${kind}.log`));
  // A draining worker may finish running activities: a minute before it is killed.
  return { kind, process: child, stop: (signal = 'SIGTERM') => stopProcess(child, signal, 60_000) };
}

export interface LocalStack {
  address: string;
  namespace: string;
  uiUrl?: string;
  /** Present when this stack started the server (not when it reused one). */
  server?: DevServer;
  workers: WorkerProcess[];
  stop(): Promise<void>;
}

export interface LocalStackOptions extends DevServerOptions {
  workers?: WorkerKind[];
  logDir?: string;
  /** Reuse a server already answering at the address instead of failing on the busy port. */
  reuseServer?: boolean;
  workerEnv?: NodeJS.ProcessEnv;
}

/** A dev server (started, or reused) plus worker processes: what `sept dev` and `npm start` run. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  let server: DevServer | undefined;
  let address = `${ip}:${port}`;
  let uiUrl: string | undefined;
  if (opts.reuseServer && port !== 0 && (await temporalAnswers(address))) {
    uiUrl = process.env.TEMPORAL_UI_URL ?? `http://localhost:${opts.uiPort ?? port + 1000}`;
  } else {
    server = await startDevServer({ ...opts, ip, port });
    address = server.address;
    uiUrl = server.uiUrl;
  }
  const workers = (opts.workers ?? ['cpu', 'gpu']).map((kind) => spawnWorker(kind, { address, logDir: opts.logDir, env: opts.workerEnv }));
  let stopped: Promise<void> | undefined;
  return {
    address,
    namespace: 'default',
    uiUrl,
    server,
    workers,
    stop: () =>
      (stopped ??= (async () => {
        await Promise.all(workers.map((w) => w.stop()));
        await server?.stop();
      })()),
  };
}
