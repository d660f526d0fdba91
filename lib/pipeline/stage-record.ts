import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RunConfig } from '../config/schema';
import { writeFileAtomic } from '../files/atomic-write';
import { RunLayout } from '../run-layout';

/**
 * A completed pipeline stage: its result and the key of the inputs it was computed from. A run
 * started again under the same name reuses a stage whose key matches instead of redoing it.
 */
interface StageRecord<T> {
  key: string;
  result: T;
  completedAt: string;
}

/** JSON with sorted keys, so that the same inputs always hash alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The key of a stage's inputs: a short hash of their canonical JSON. */
export const stageKey = (inputs: unknown) => createHash('sha256').update(canonical(inputs)).digest('hex').slice(0, 16);

const recordPath = (config: RunConfig, stage: string) => new RunLayout(config.outputDir, config.name).stageRecord(stage);

export async function readStageRecord<T>(config: RunConfig, stage: string, key: string): Promise<T | undefined> {
  try {
    const record = JSON.parse(await readFile(recordPath(config, stage), 'utf8')) as StageRecord<T>;
    return record.key === key ? record.result : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A record is either complete or absent. */
export async function writeStageRecord<T>(config: RunConfig, stage: string, key: string, result: T): Promise<void> {
  const record: StageRecord<T> = { key, result, completedAt: new Date().toISOString() };
  await writeFileAtomic(recordPath(config, stage), JSON.stringify(record, null, 2));
}
