import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { trainerEnvironment } from './environment';
import { parseTrainerEvent, TRAINER_EXIT, type TrainerEvent, type TrainerStage } from './protocol';

export interface TrainerInvocation {
  /** Executable and leading arguments, e.g. `['trainer/sept-trainer']`. */
  command: string[];
  stage: TrainerStage;
  configFile: string;
  resume?: string;
  /** Variables beyond the minimal environment every trainer gets (lib/trainer/environment.ts): its registry entry's. */
  env?: Record<string, string>;
  cwd?: string;
  /** Aborting asks the trainer to stop (SIGTERM: it checkpoints), then kills it after `killGraceMs`. */
  signal?: AbortSignal;
  killGraceMs?: number;
  onEvent?: (event: TrainerEvent) => void;
  onStderr?: (line: string) => void;
}

export interface TrainerOutcome {
  exitCode: number | null;
  /** The signal that ended the process, when one did (SIGKILL after the grace period, or from outside). */
  signal: NodeJS.Signals | null;
  /** The trainer exited because it was asked to stop, after writing a checkpoint. */
  stopped: boolean;
  lastCheckpoint?: { path: string; step: number };
  metrics: Record<string, number | null>;
  artifacts: { kind: string; path: string }[];
  /** The last lines the trainer wrote to stderr: the reason of a crash. */
  stderrTail: string[];
}

const STDERR_TAIL_LINES = 20;

/** Runs one trainer stage to its end, collecting its protocol events. Never throws for a non-zero exit. */
export function runTrainerProcess(inv: TrainerInvocation): Promise<TrainerOutcome> {
  const [cmd, ...lead] = inv.command;
  const args = [...lead, inv.stage, '--config', inv.configFile, ...(inv.resume ? ['--resume', inv.resume] : [])];
  // stdin is a pipe we hold open and never write: if this process dies, the trainer reads EOF and
  // stops with a checkpoint instead of training on as an orphan (trainer/PROTOCOL.md, Supervision).
  const child = spawn(cmd, args, {
    cwd: inv.cwd,
    env: trainerEnvironment(inv.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const outcome: TrainerOutcome = { exitCode: null, signal: null, stopped: false, metrics: {}, artifacts: [], stderrTail: [] };

  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = parseTrainerEvent(line);
    if (!event) return inv.onStderr?.(`(stdout) ${line}`);
    if (event.event === 'checkpoint') outcome.lastCheckpoint = { path: event.path, step: event.step };
    if (event.event === 'metrics') Object.assign(outcome.metrics, event.metrics);
    if (event.event === 'artifact') outcome.artifacts.push({ kind: event.kind, path: event.path });
    inv.onEvent?.(event);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    outcome.stderrTail.push(line);
    if (outcome.stderrTail.length > STDERR_TAIL_LINES) outcome.stderrTail.shift();
    inv.onStderr?.(line);
  });

  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      // A launcher's ranks (torchrun's run in sessions of their own) outlive its SIGKILL: the end of
      // the pipe they share tells them their supervisor is gone.
      child.stdin.destroy();
      child.kill('SIGKILL');
    }, inv.killGraceMs ?? 60_000);
  };
  if (inv.signal?.aborted) stop();
  else inv.signal?.addEventListener('abort', stop, { once: true });

  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start trainer ${cmd}: ${err.message}`)));
    // 'close' (not 'exit') so every buffered stdout line is parsed before we resolve.
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      inv.signal?.removeEventListener('abort', stop);
      outcome.exitCode = code;
      outcome.signal = signal;
      outcome.stopped = code === TRAINER_EXIT.STOPPED;
      resolve(outcome);
    });
  });
}
