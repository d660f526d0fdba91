import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

// The reference trainer's naming (trainer/septtrainer/checkpoint.py); any trainer that names its
// checkpoints this way gets directory-based resume too.
const CHECKPOINT_NAME = /^checkpoint-(\d+)\.pt$/;

/** A complete checkpoint file and the step it was taken at. */
export interface Checkpoint {
  path: string;
  step: number;
}

/** The step of a checkpoint file name (`checkpoint-00000050.pt`: 50); undefined for other names. */
export function checkpointStep(name: string): number | undefined {
  const match = CHECKPOINT_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** The newest complete checkpoint in a folder (trainers write them atomically), if any. */
export async function latestCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  let best: Checkpoint | undefined;
  for (const name of names) {
    const step = checkpointStep(name);
    if (step !== undefined && (!best || step > best.step)) best = { path: join(dir, name), step };
  }
  return best;
}
