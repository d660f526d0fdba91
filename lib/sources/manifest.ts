import { createHash } from 'node:crypto';
import { dirname, isAbsolute, posix, resolve } from 'node:path';
import { isObjectUri, ObjectStore, type ObjectStoreError } from '../object-store';
import { allowedLocation } from '../storage/access';
import { type ShardRef, SourceError } from './shard-ref';
import { readSourceFile } from './source-files';

/** One line of a JSONL manifest: a sample id (unique within the source), where its image is, and an optional label. */
export interface ManifestEntry {
  id: string;
  uri: string;
  label?: string | number;
  /**
   * The image file's version when listed (a folder's lines carry it: `<size>-<mtimeMs>` or an
   * object's ETag), so that a file replaced in place changes its line and hence its shard's version.
   */
  version?: string;
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

/** Where an entry's image is: an `s3://` object, an absolute path, `file://`, or relative to the manifest's folder (or key prefix, for a manifest in a bucket). */
export function entryPath(manifest: string, uri: string): string {
  if (uri.startsWith('file://')) return new URL(uri).pathname;
  if (isObjectUri(uri)) return uri;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new SourceError(`manifest ${manifest}: images are local files or s3:// objects, not ${uri}`);
  if (isAbsolute(uri)) return uri;
  if (!isObjectUri(manifest)) return resolve(dirname(manifest), uri);
  const { store, key } = ObjectStore.at(manifest);
  const relative = posix.normalize(posix.join(posix.dirname(key), uri));
  if (relative.startsWith('../') || relative === '..') throw new SourceError(`manifest ${manifest}: ${uri} leads out of the bucket`);
  return `s3://${store.bucket}/${relative}`;
}

/** A manifest (or folder) shard's content version: a hash of its lines' bytes. */
export const linesVersion = (lines: Buffer) => createHash('sha256').update(lines).digest('hex').slice(0, 32);

/** A manifest, local or in a bucket; absent is a SourceError naming it. */
async function readManifest(manifest: string, range?: [number, number]): Promise<Buffer> {
  try {
    return await readSourceFile(manifest, range && { start: range[0], end: range[1] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as ObjectStoreError).problem === 'no-such-object') throw new SourceError(`manifest not found: ${manifest}`);
    throw err;
  }
}

/**
 * An entry's image where this worker lets runs read (lib/storage/access.ts), or a ConfigError naming
 * its line. A URI of another scheme passes: it is never opened, and its sample is quarantined.
 */
function checkEntry(manifest: string, uri: string, field: string): void {
  let path: string;
  try {
    path = entryPath(manifest, uri);
  } catch {
    return;
  }
  allowedLocation(`${field} (uri ${uri})`, path, 'read');
}

/**
 * Cuts a manifest into shards of `shardSize` lines, as byte ranges, reading each line once without
 * touching any image. Shard ids are `<source>/<shard number>`: the same manifest always gives the
 * same shards. Every line's image must lie where this worker lets runs read: a run fails at its
 * listing, naming the line (`field` names the manifest), before any image is opened.
 */
export async function manifestShards(source: string, manifest: string, shardSize: number, field = 'manifest'): Promise<ShardRef[]> {
  const text = await readManifest(manifest);
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
      const { id, uri } = parseEntry(line, `${manifest} line ${lineNumber}`);
      checkEntry(manifest, uri, `${field} line ${lineNumber}`);
      if (ids.has(id)) throw new SourceError(`${manifest} line ${lineNumber}: duplicate id ${id}`);
      ids.add(id);
      lines++;
    }
    pos = end;
    if (lines === shardSize || (pos === text.length && lines > 0)) {
      refs.push({ id: `${source}/${String(refs.length).padStart(6, '0')}`, source, path: manifest, format: 'manifest', range: [start, pos], version: linesVersion(text.subarray(start, pos)) });
      start = pos;
      lines = 0;
      // A manifest of millions of lines takes seconds to check: let the worker's heartbeats through.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (refs.length === 0) throw new SourceError(`manifest ${manifest} lists no images`);
  return refs;
}

/**
 * The entries of one manifest shard, in manifest order. Its lines must still be those it was
 * listed with: a manifest rewritten since then fails the shard rather than give another shard's
 * samples under its id.
 */
export async function* readManifestShard(ref: ShardRef): AsyncGenerator<ManifestEntry> {
  const bytes = await readManifest(ref.path, ref.range);
  if (ref.version !== undefined && linesVersion(bytes) !== ref.version) {
    throw new SourceError(`manifest ${ref.path} changed since shard ${ref.id} was listed (lines ${ref.range?.join('-') ?? 'all'} differ): list the source again`);
  }
  const lines = bytes.toString('utf8').split('\n');
  for (const [i, line] of lines.entries()) if (line.trim() !== '') yield parseEntry(line, `${ref.path} (shard ${ref.id}) line ${i + 1}`);
}
