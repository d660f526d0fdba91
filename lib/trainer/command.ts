import { join } from 'node:path';
import type { RunConfig } from '../config/schema';
import { projectRoot } from '../paths';

/** The reference trainer, run by the Python that setup prepared (or `SEPT_TRAINER_PYTHON`). */
export function referenceTrainerCommand(): { command: string[]; env: NodeJS.ProcessEnv } {
  const python = process.env.SEPT_TRAINER_PYTHON ?? join(projectRoot, '.venv-trainer', 'bin', 'python');
  return { command: [python, '-m', 'septtrainer'], env: { PYTHONPATH: join(projectRoot, 'trainer'), PYTHONUNBUFFERED: '1' } };
}

/** The run's trainer: its configured command, else the reference trainer. */
export function trainerCommand(config: RunConfig): { command: string[]; env: NodeJS.ProcessEnv } {
  return config.trainer.command ? { command: config.trainer.command, env: {} } : referenceTrainerCommand();
}
