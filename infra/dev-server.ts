import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { projectRoot } from '../lib/paths';
import { SEARCH_ATTRIBUTES } from './search-attributes';
// From the package root, where setup's CommonJS helpers stay in the build too (tsc copies no .cjs into dist/).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureTemporalCli } = require(join(projectRoot, 'infra', 'temporal-cli.cjs')) as { ensureTemporalCli: (log?: (m: string) => void) => string };

/** Dynamic config the dev server starts with; why each value is set is noted beside it. */
const DYNAMIC_CONFIG: Record<string, string> = {
  // Search attributes registered at launch are usable by the first workflow, not after a cache refresh.
  'system.forceSearchAttributesCacheRefreshOnRead': 'true',
};

export interface DevServerOptions {
  /** gRPC port; 0 picks a free one (tests), default 7233. */
  port?: number;
  /** Web UI port; 0 picks a free one, default port + 1000. */
  uiPort?: number;
  headless?: boolean;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFile?: string;
  ip?: string;
  /** Server output goes here (it is noisy); discarded when absent. */
  logFile?: string;
  /** How long to wait for the server to answer, in ms. */
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a Temporal frontend answers at this address. */
export async function temporalAnswers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1500 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

async function waitUntilServing(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Temporal dev server exited with code ${child.exitCode} during start`);
    if (await temporalAnswers(address)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Temporal dev server at ${address} not ready after ${timeoutMs} ms`);
}

/** Signals a child process (SIGTERM by default) and SIGKILLs it if it has not exited after `graceMs`. */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Starts `temporal server start-dev` from the project's pinned CLI, with septflow's search attributes. */
/** A service's stdout and stderr appended to `logFile`, or drained and dropped (a full pipe would stall it). */
export function logOutput(child: ChildProcess, logFile?: string): void {
  if (logFile) {
    mkdirSync(dirname(logFile), { recursive: true });
    const out = createWriteStream(logFile, { flags: 'a' });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
  } else {
    child.stdout!.resume();
    child.stderr!.resume();
  }
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = ensureTemporalCli();
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port === 0 ? await freePort() : (options.port ?? 7233);
  const uiPort = options.headless ? undefined : options.uiPort === 0 ? await freePort() : (options.uiPort ?? port + 1000);
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-format', 'json', '--log-level', 'warn'];
  args.push(options.headless ? '--headless' : '--ui-port', ...(options.headless ? [] : [String(uiPort)]));
  if (options.dbFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${key}=${value}`);
  // Free ports for the HTTP API and metrics, so several servers (parallel tests) never collide.
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));

  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  logOutput(child, options.logFile);
  const address = `${ip}:${port}`;
  try {
    await waitUntilServing(address, child, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return {
    address,
    uiUrl: uiPort ? `http://${ip === '0.0.0.0' ? 'localhost' : ip}:${uiPort}` : undefined,
    namespace: 'default',
    process: child,
    stop: () => stopProcess(child),
  };
}
