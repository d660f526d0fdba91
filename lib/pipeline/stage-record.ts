import { createHash } from 'node:crypto';
import type { RunConfig } from '../config/schema';
import { RunLayout } from '../run-layout';
import { writeLocation } from '../storage/location';
import { readRecord } from '../storage/record';

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

function parseStageRecord<T>(text: string): StageRecord<T> {
  const record = JSON.parse(text) as Partial<StageRecord<T>> | null;
  if (typeof record !== 'object' || record === null || typeof record.key !== 'string' || !('result' in record)) throw new Error('not a stage record: no key and result');
  return record as StageRecord<T>;
}

/** The stage's result when its record is there, whole, and of these inputs; a torn record is absent (readRecord), and the stage is done again. */
export async function readStageRecord<T>(config: RunConfig, stage: string, key: string): Promise<T | undefined> {
  const record = await readRecord(recordPath(config, stage), parseStageRecord<T>);
  return record?.key === key ? record.result : undefined;
}

/** A record is either complete or absent: written whole under its name, a local file by rename, an object by one PUT. */
export async function writeStageRecord<T>(config: RunConfig, stage: string, key: string, result: T): Promise<void> {
  const record: StageRecord<T> = { key, result, completedAt: new Date().toISOString() };
  await writeLocation(recordPath(config, stage), JSON.stringify(record, null, 2));
}
