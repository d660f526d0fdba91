import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { inputLimits } from '../input-limits';
import { localFileVersion } from './source-files';
import { SourceError } from './shard-ref';

export const SHARD_FILE = /\.(tar|tar\.gz|tgz)$/i;

/** One shard file a pattern names: where it is, its size, and its content version (see ShardRef.version). */
export interface ShardFile {
  path: string;
  bytes: number;
  version: string;
}

const BRACE_RANGE = /\{(\d+)\.\.(\d+)\}/;

/** How many names a pattern's brace ranges expand to, counted exactly (any number of digits), never by expanding them. */
export function braceNameCount(pattern: string): bigint {
  let count = 1n;
  for (const [, from, to] of pattern.matchAll(new RegExp(BRACE_RANGE, 'g'))) count *= BigInt(to) >= BigInt(from) ? BigInt(to) - BigInt(from) + 1n : 0n;
  return count;
}

/** The names of a brace pattern one at a time, in expansion order. */
export function* braceNames(pattern: string): Generator<string> {
  const match = BRACE_RANGE.exec(pattern);
  if (!match) {
    yield pattern;
    return;
  }
  const [whole, from, to] = match;
  const width = from.length;
  // BigInt: past 2^53 a Number counter stops moving and the loop never ends.
  for (let i = BigInt(from); i <= BigInt(to); i++) {
    yield* braceNames(pattern.slice(0, match.index) + String(i).padStart(width, '0') + pattern.slice(match.index + whole.length));
  }
}

/** Refuses a pattern whose brace ranges name more shards than this worker lets a pattern name (SEPT_MAX_SHARD_NAMES), before expanding it. */
export function checkBraceBound(pattern: string, max = inputLimits().shardPatternNames): void {
  const count = braceNameCount(pattern);
  if (count > BigInt(max)) throw new SourceError(`shard pattern ${pattern} expands to ${count} names, more than the ${max} a pattern may name (SEPT_MAX_SHARD_NAMES): a digit too many?`);
}

/** WebDataset brace ranges: `pool-{000..099}.tar` names 100 shards, zero padding kept; yielded one at a time, after the bound is checked. */
export function expandBraces(pattern: string): Generator<string> {
  checkBraceBound(pattern);
  return braceNames(pattern);
}

/** A `*` / `?` glob as a regular expression body; neither crosses a `/`. */
export const globBody = (glob: string) => glob.replace(/[.+^$()|[\]\\{}]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');

const globToRegExp = (glob: string) => new RegExp(`^${globBody(glob)}$`);

async function exists(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** Resolves one local `shards` entry (a folder, a brace range, a `*` glob in the file name, or a file) to its shard files, sorted. */
export async function expandShardPattern(pattern: string): Promise<ShardFile[]> {
  const paths = await expandShardPaths(pattern);
  return Promise.all(paths.map(async (path) => ({ path, ...(await localFileVersion(path)) })));
}

async function expandShardPaths(pattern: string): Promise<string[]> {
  const out: string[] = [];
  for (const candidate of expandBraces(pattern)) {
    if (/[*?]/.test(basename(candidate))) {
      const dir = dirname(candidate);
      if ((await exists(dir)) !== 'dir') throw new SourceError(`shard folder not found: ${dir}`);
      const re = globToRegExp(basename(candidate));
      const names = (await readdir(dir)).filter((n) => re.test(n) && SHARD_FILE.test(n));
      out.push(...names.sort().map((n) => join(dir, n)));
      continue;
    }
    const kind = await exists(candidate);
    if (kind === 'dir') {
      const names = (await readdir(candidate)).filter((n) => SHARD_FILE.test(n)).sort();
      out.push(...names.map((n) => join(candidate, n)));
    } else if (kind === 'file') out.push(candidate);
    else throw new SourceError(`no such shard or folder: ${candidate}`);
  }
  return out;
}
