import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type ShardRef, SourceError } from './shard-ref';

/** One line of a JSONL manifest: a sample id (unique within the source), where its image is, and an optional label. */
export interface ManifestEntry {
  id: string;
  uri: string;
  label?: string | number;
}

function parseEntry(line: string, where: string): ManifestEntry {
  let entry: Partial<ManifestEntry>;
  try {
    entry = JSON.parse(line) as Partial<ManifestEntry>;
  } catch {
    throw new SourceError(`${where}: not valid JSON`);
  }
  if (typeof entry.id !== 'string' || entry.id === '' || typeof entry.uri !== 'string' || entry.uri === '') {
    throw new SourceError(`${where}: needs string fields "id" and "uri"`);
  }
  return entry as ManifestEntry;
}

/** Local image path of an entry: absolute, `file://`, or relative to the manifest's folder. */
export function entryPath(manifest: string, uri: string): string {
  if (uri.startsWith('file://')) return new URL(uri).pathname;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new SourceError(`manifest ${manifest}: only local files are supported, not ${uri}`);
  return isAbsolute(uri) ? uri : resolve(dirname(manifest), uri);
}

/**
 * Cuts a manifest into shards of `shardSize` lines, as byte ranges, reading each line once without
 * touching any image. Shard ids are `<source>/<shard number>`: the same manifest always gives the
 * same shards.
 */
export async function manifestShards(source: string, manifest: string, shardSize: number): Promise<ShardRef[]> {
  let text: Buffer;
  try {
    text = await readFile(manifest);
  } catch {
    throw new SourceError(`manifest not found: ${manifest}`);
  }
  const refs: ShardRef[] = [];
  let start = 0;
  let lines = 0;
  let lineNumber = 0;
  const ids = new Set<string>();
  for (let pos = 0; pos < text.length; ) {
    const newline = text.indexOf(0x0a, pos);
    const end = newline === -1 ? text.length : newline + 1;
    const line = text.toString('utf8', pos, end).trim();
    lineNumber++;
    if (line !== '') {
      const { id } = parseEntry(line, `${manifest} line ${lineNumber}`);
      if (ids.has(id)) throw new SourceError(`${manifest} line ${lineNumber}: duplicate id ${id}`);
      ids.add(id);
      lines++;
    }
    pos = end;
    if (lines === shardSize || (pos === text.length && lines > 0)) {
      refs.push({ id: `${source}/${String(refs.length).padStart(6, '0')}`, source, path: manifest, format: 'manifest', range: [start, pos] });
      start = pos;
      lines = 0;
    }
  }
  if (refs.length === 0) throw new SourceError(`manifest ${manifest} lists no images`);
  return refs;
}

/** The entries of one manifest shard, in manifest order. */
export async function* readManifestShard(ref: ShardRef): AsyncGenerator<ManifestEntry> {
  const [start, end] = ref.range ?? [0, Infinity];
  let rest = '';
  let lineNumber = 0;
  for await (const chunk of createReadStream(ref.path, { start, end: end - 1, encoding: 'utf8' })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      lineNumber++;
      if (line.trim() !== '') yield parseEntry(line, `${ref.path} (shard ${ref.id}) line ${lineNumber}`);
    }
  }
  if (rest.trim() !== '') yield parseEntry(rest, `${ref.path} (shard ${ref.id}) line ${lineNumber + 1}`);
}
