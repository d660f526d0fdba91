import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SourceError } from './shard-ref';

const SHARD_FILE = /\.(tar|tar\.gz|tgz)$/i;

/** WebDataset brace ranges: `pool-{000..099}.tar` becomes 100 names, zero padding kept. */
export function expandBraces(pattern: string): string[] {
  const match = /\{(\d+)\.\.(\d+)\}/.exec(pattern);
  if (!match) return [pattern];
  const [whole, from, to] = match;
  const width = from.length;
  const out: string[] = [];
  for (let i = Number(from); i <= Number(to); i++) {
    const name = pattern.slice(0, match.index) + String(i).padStart(width, '0') + pattern.slice(match.index + whole.length);
    out.push(...expandBraces(name));
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

async function exists(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** Resolves one `shards` entry (a folder, a brace range, a `*` glob in the file name, or a file) to sorted shard paths. */
export async function expandShardPattern(pattern: string): Promise<string[]> {
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
