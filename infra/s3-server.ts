import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { produceFolderAtomic } from '../lib/files/atomic-write';
import { freePort, logOutput, stopProcess } from './dev-server';

/**
 * An S3-compatible server for tests and local trials: moto's server mode, from a venv in a
 * machine-wide cache keyed by its version (like the trainer's venv, see trainer-env.cjs).
 */
export const MOTO_VERSION = '5.2.5';

function motoVenvDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'septflow', `moto-${MOTO_VERSION}`);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${output.slice(-3000)}`))));
  });
}

/**
 * The venv's python with `moto[server]` installed; created on first use (about half a minute).
 * Built under a temporary name and renamed, so an interrupted install is never taken as done.
 * Scripts are never run from the venv (their shebangs name the temporary path): `python -m` is.
 */
export async function ensureMotoPython(log: (msg: string) => void = (m) => console.error(m)): Promise<string> {
  const venv = motoVenvDir();
  const pythonOf = (dir: string) => join(dir, 'bin', 'python');
  if (existsSync(pythonOf(venv))) return pythonOf(venv);
  log(`[setup] creating ${venv} (moto[server]==${MOTO_VERSION}, first run only)`);
  // Another process may finish the same venv first; theirs is as good as ours.
  await produceFolderAtomic(
    venv,
    async (staging) => {
      await run('python3', ['-m', 'venv', staging]);
      await run(pythonOf(staging), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--progress-bar', 'off', `moto[server]==${MOTO_VERSION}`]);
    },
    (dir) => existsSync(pythonOf(dir)),
  );
  return pythonOf(venv);
}

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  process: ChildProcess;
  /**
   * The standard AWS variables that point a client (LanceDB included) at this server, and
   * SEPT_BUCKETS naming every bucket created so far: a worker reaches no bucket it is not given.
   */
  env: Record<string, string>;
  /** Creates a bucket (moto takes a plain unsigned PUT) and adds it to `env.SEPT_BUCKETS`. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Whether the server is up: it lists its buckets, or with `refusing` it answers at all (an unsigned request is refused). */
async function answers(endpoint: string, refusing: boolean): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok || refusing;
  } catch {
    return false;
  }
}

/**
 * Starts `moto_server` on 127.0.0.1 (a free port unless given) and waits until it answers.
 * `refuseCredentials`: moto checks every request's signature against its own IAM users, of which
 * there are none, so every request is refused as a store refuses wrong credentials (and no bucket
 * can be created).
 */
export async function startS3Server(opts: { port?: number; logFile?: string; startTimeoutMs?: number; refuseCredentials?: boolean } = {}): Promise<S3Server> {
  const python = await ensureMotoPython();
  const port = opts.port ?? (await freePort());
  // moto authenticates requests only after this many; unset, never.
  const serverEnv = opts.refuseCredentials ? { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '0' } : process.env;
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv });
  logOutput(child, opts.logFile);
  const endpoint = `http://127.0.0.1:${port}`;
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(endpoint, opts.refuseCredentials ?? false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopProcess(child, 'SIGTERM', 5_000);
      throw new Error(child.exitCode !== null ? `moto server exited with code ${child.exitCode} during start` : `moto server at ${endpoint} not answering after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const credentials = { region: 'us-east-1', accessKeyId: 'septflow-test', secretAccessKey: 'septflow-test-secret' };
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: credentials.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    SEPT_BUCKETS: '',
  };
  return {
    endpoint,
    ...credentials,
    process: child,
    env,
    async createBucket(name: string) {
      const res = await fetch(`${endpoint}/${encodeURIComponent(name)}`, { method: 'PUT' });
      const body = await res.text();
      if (!res.ok) throw new Error(`creating bucket ${name}: HTTP ${res.status} ${body.slice(0, 300)}`);
      env.SEPT_BUCKETS = [env.SEPT_BUCKETS, `s3://${name}`].filter(Boolean).join(',');
    },
    stop: () => stopProcess(child, 'SIGTERM', 5_000),
  };
}
