import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { workerSettingsFromEnv } from '../config/worker-settings';
import { log } from '../log';
import { referenceTrainerCommand, type TrainerCommand } from './command';
import { trainerEnvironment } from './environment';

/**
 * The reference trainer's forkserver (trainer/septtrainer/forkserver.py): one Python process per
 * worker process that has imported torch, from which each single-process job of the reference
 * trainer is forked instead of importing torch again (about 5 s of CPU a job, measured on torch
 * 2.15). A job still runs as `python -m septtrainer <stage> ...`, a process of its own that the
 * worker signals and reaps as before (lib/trainer/process.ts); with SEPT_FORKSERVER_SOCKET set it
 * hands its work to the forkserver, and runs it itself where there is none or it is refused.
 *
 * Started with a sept-gpu worker (runWorker), or at its first reference-trainer job; off with
 * SEPT_TRAINER_FORKSERVER=off. Never restarted: once it is gone, jobs start on their own.
 */

/** The variable that tells a reference-trainer job where the forkserver listens. */
export const FORKSERVER_SOCKET_ENV = 'SEPT_FORKSERVER_SOCKET';

/**
 * How long a job waits for a starting forkserver before it starts on its own. Waiting costs no
 * CPU: the forkserver's import is the job's own, done once. Past this (a machine so loaded that
 * importing torch takes minutes) the job imports torch itself.
 */
const READY_WAIT_MS = 120_000;

interface Forkserver {
  socket: string;
  process: ChildProcess;
  /** The reference trainer it was started as: a job of another (SEPT_TRAINER_PYTHON changed since) does not use it. */
  trainer: TrainerCommand;
  /** Resolves once it listens (true) or once it has failed to (false). */
  ready: Promise<boolean>;
  listening: boolean;
}

let running: Forkserver | null | undefined;

/** Whether `line` is the forkserver's one line on stdout: `{"event": "ready", "socket": ...}`. */
function readyLine(line: string): boolean {
  try {
    return (JSON.parse(line) as { event?: unknown }).event === 'ready';
  } catch {
    return false;
  }
}

function start(): Forkserver {
  const trainer = referenceTrainerCommand();
  const dir = mkdtempSync(join(tmpdir(), 'septtrainer-'));
  const socket = join(dir, 'forkserver.sock');
  const started = Date.now();
  // The environment every job of it gets: the forkserver refuses a job whose environment differs.
  const child = spawn(trainer.command[0], ['-m', 'septtrainer.forkserver', '--socket', socket], {
    env: trainerEnvironment({ ...trainer.env, [FORKSERVER_SOCKET_ENV]: socket }),
    // stdin held open and never written: its end tells the forkserver that this worker is gone.
    // stdout: one line, once it listens.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let readied!: (ready: boolean) => void;
  const server: Forkserver = { socket, process: child, trainer, listening: false, ready: new Promise((resolve) => (readied = resolve)) };
  // It must not keep a worker (or a test) that is otherwise done from exiting.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref(): void }).unref();
  createInterface({ input: child.stdout! }).once('line', (line) => {
    server.listening = readyLine(line);
    readied(server.listening);
    if (server.listening) log.info({ forkserver: child.pid, socket, seconds: (Date.now() - started) / 1000 }, 'trainer forkserver ready');
  });
  createInterface({ input: child.stderr! }).on('line', (line) => log.debug({ stream: 'trainer forkserver' }, line));
  const gone = (why: string) => {
    server.listening = false;
    readied(false);
    if (running === server) running = null;
    rmSync(dir, { recursive: true, force: true });
    log.warn({ socket }, `trainer forkserver ${why}: reference-trainer jobs start on their own from now on`);
  };
  child.once('error', (err) => gone(`did not start (${err.message})`));
  child.once('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  log.info({ forkserver: child.pid }, 'trainer forkserver starting');
  return server;
}

/** Starts this worker's forkserver unless it runs, has run, or SEPT_TRAINER_FORKSERVER is off. */
export function startTrainerForkserver(env: NodeJS.ProcessEnv = process.env): void {
  if (running === undefined) running = workerSettingsFromEnv(env).trainerForkserver ? start() : null;
}

/**
 * `trainer` with the forkserver's socket in its environment when it is the reference trainer run
 * as one process (not torchrun's ranks, not a registered trainer) and this worker's forkserver
 * listens, once it does if it is starting. The wait ends early when `signal` aborts (the job's
 * cancellation, which its trainer then sees at once).
 */
export async function throughForkserver(trainer: TrainerCommand, signal?: AbortSignal): Promise<TrainerCommand> {
  if (!isDeepStrictEqual(trainer, referenceTrainerCommand())) return trainer;
  startTrainerForkserver();
  const server = running;
  if (!server || !isDeepStrictEqual(trainer, server.trainer)) return trainer;
  // The timer also keeps this process up while the job waits (the forkserver's handles do not).
  const waited = new AbortController();
  const until = signal ? AbortSignal.any([signal, waited.signal]) : waited.signal;
  await Promise.race([server.ready, delay(READY_WAIT_MS, undefined, { signal: until }).catch(() => undefined)]);
  waited.abort();
  return server.listening ? { ...trainer, env: { ...trainer.env, [FORKSERVER_SOCKET_ENV]: server.socket } } : trainer;
}
