// How long each test file took, for test/run.ts: files start longest first (below), so that the
// longest file of a tier never starts last and runs alone on a core the others left idle.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const { cacheRoot } = require('../../infra/python-venv.cjs') as { cacheRoot: () => string };

export type FileSeconds = Record<string, number>;

/** Seconds per test file (paths relative to the project), from earlier runs on this machine. */
export const fileSecondsPath = (): string => join(cacheRoot(), 'test-file-seconds.json');

/** The record, or an empty one where there is none or it is unreadable: it only orders files. */
export function readFileSeconds(path = fileSecondsPath()): FileSeconds {
  try {
    const record: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return record && typeof record === 'object' && !Array.isArray(record) ? (record as FileSeconds) : {};
  } catch {
    return {};
  }
}

/** Adds a run's `file<TAB>seconds` lines (the reporter's output) to the record under key(file), replacing those files' figures. */
export function recordFileSeconds(lines: string, key: (file: string) => string, path = fileSecondsPath()): void {
  const record = readFileSeconds(path);
  for (const line of lines.split('\n')) {
    const [file, seconds] = line.split('\t');
    if (file && seconds && Number.isFinite(Number(seconds))) record[key(file)] = Number(seconds);
  }
  mkdirSync(dirname(path), { recursive: true });
  const staged = `${path}.${process.pid}`;
  writeFileSync(staged, `${JSON.stringify(record, null, 1)}\n`);
  renameSync(staged, path);
}

/** Longest first by the record; files it does not know (new ones) before all, then by name. */
export function longestFirst(files: string[], seconds: FileSeconds, key: (file: string) => string): string[] {
  const of = (file: string) => seconds[key(file)] ?? Infinity;
  return [...files].sort((a, b) => of(b) - of(a) || (a < b ? -1 : a > b ? 1 : 0));
}
