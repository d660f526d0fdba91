import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { localFileVersion } from './source-files';
import { SourceError } from './shard-ref';

export const SHARD_FILE = /\.(tar|tar\.gz|tgz)$/i;

/** One shard file a pattern names: where it is, its size, and its content version (see ShardRef.version). */
export interface ShardFile {
  path: string;
  bytes: number;
  version: string;
}

/** More names than any pool has shards: a pattern that expands past this has a typo (a digit too many), and would exhaust memory. */
export const MAX_BRACE_NAMES = 10_000_000;

/** How many names a pattern's brace ranges expand to. */
export function braceNameCount(pattern: string): number {
  let count = 1;
  for (const [, from, to] of pattern.matchAll(/\{(\d+)\.\.(\d+)\}/g)) count *= Math.max(0, Number(to) - Number(from) + 1);
  return count;
}

/** The names of a brace pattern one at a time, in expansion order. */
export function* braceNames(pattern: string): Generator<string> {
  const match = /\{(\d+)\.\.(\d+)\}/.exec(pattern);
  if (!match) {
    yield pattern;
    return;
  }
  const [whole, from, to] = match;
  const width = from.length;
  for (let i = Number(from); i <= Number(to); i++) {
    yield* braceNames(pattern.slice(0, match.index) + String(i).padStart(width, '0') + pattern.slice(match.index + whole.length));
  }
}

/** Refuses a pattern whose brace ranges name more than MAX_BRACE_NAMES shards, naming it. */
export function checkBraceBound(pattern: string): void {
  const count = braceNameCount(pattern);
  if (count > MAX_BRACE_NAMES) throw new SourceError(`shard pattern ${pattern} expands to ${count} names, more than the ${MAX_BRACE_NAMES} a pattern may name`);
}

/** WebDataset brace ranges: `pool-{000..099}.tar` becomes 100 names, zero padding kept. */
export function expandBraces(pattern: string): string[] {
  checkBraceBound(pattern);
  return [...braceNames(pattern)];
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
