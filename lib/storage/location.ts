// Where a run's artifacts live (lib/run-layout.ts names them): a location is an absolute local path
// or an `s3://bucket/key` URI. Both are plain strings, so they travel in activity results (a shard
// plan's path, a report's files) and mean the same on every worker. An object is read through the
// worker's bounded cache (lib/cache/object-cache.ts) at one version, and written with one PUT; a
// local file is read in place and written through a temporary name and a rename. A file made in
// steps (a shard) is written locally first, in the worker's scratch folder for a bucket; a program
// that reads by path (the trainer) gets an object as a pinned cache entry.
import type { Stats } from 'node:fs';
import { type FileHandle, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { type PinnedFile, workerCache } from '../cache/object-cache';
import { ConfigError } from '../config/validate';
import { copyFileAtomic, PendingFile, writeFileAtomic, writerTag } from '../files/atomic-write';
import { openRegularFile } from '../files/regular-file';
import { isObjectUri, type ObjectInfo, ObjectStore, ObjectStoreError, S3_URI } from '../object-store';
import { allowedLocation } from './access';

/**
 * The one door from a configured `outputDir` to the place a run writes: a bucket prefix as given,
 * a local path resolved under SEPT_DATA_DIR; either where this worker lets runs write
 * (lib/storage/access.ts), so that no run's outputDir reaches past its roots and buckets.
 */
export function outputLocation(outputDir: string): string {
  if (isObjectUri(outputDir) && !S3_URI.test(outputDir)) throw new ConfigError([`outputDir: ${outputDir} is not an s3://bucket/prefix URI`]);
  return allowedLocation('outputDir', outputDir.replace(/(.)\/+$/, '$1'), 'write');
}

// Every location below is one a run named, or one under it (lib/run-layout.ts): each is let
// through the door again where it is used, since locations also travel in workflow arguments,
// which anyone who can start a workflow writes.
const reading = (location: string) => allowedLocation('location', location, 'read');
const writing = (location: string) => allowedLocation('location', location, 'write');

/**
 * This worker's scratch folder, `<SEPT_CACHE_DIR>/scratch`: files made on this machine on their way
 * to a bucket (a shard being written, a trainer job's outputs). The cache's eviction leaves it
 * alone and its bound does not count it; what is uploaded is removed from it.
 */
export function scratchDir(): string {
  return join(workerCache().dir, 'scratch');
}

/** A location inside a folder location. */
export function locationIn(dir: string, ...names: string[]): string {
  return isObjectUri(dir) ? [dir.replace(/\/+$/, ''), ...names].join('/') : join(dir, ...names);
}

/** The `/`-separated way from a folder location to another location of the same store, as a document links it. */
export function relativeLink(fromDir: string, to: string): string {
  if (!isObjectUri(fromDir)) return relative(fromDir, to).split(sep).join('/');
  const path = (uri: string) => `/${uri.slice('s3://'.length)}`;
  return posix.relative(path(fromDir), path(to));
}

const absent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** What `read` makes of a local regular file, opened once and closed after; undefined when nothing is there. */
async function fromLocalFile<T>(path: string, read: (opened: { file: FileHandle; info: Stats }) => Promise<T>): Promise<T | undefined> {
  let opened;
  try {
    // A FIFO where a record or an encoder.json is expected would block its reader for ever.
    opened = await openRegularFile(path);
  } catch (err) {
    if (absent(err)) return undefined;
    throw err;
  }
  try {
    return await read(opened);
  } finally {
    await opened.file.close();
  }
}

/** What `read` makes of an object at the version its HEAD names; undefined when there is none. */
async function fromObjectVersion<T>(location: string, read: (store: ObjectStore, key: string, head: ObjectInfo) => Promise<T>): Promise<T | undefined> {
  const { store, key } = ObjectStore.at(location);
  for (let attempt = 1; ; attempt++) {
    const head = await store.head(key);
    if (!head) return undefined;
    try {
      return await read(store, key, head);
    } catch (err) {
      // Replaced or deleted between its HEAD and its GET: read whatever is there now.
      if (attempt < 3 && err instanceof ObjectStoreError && err.problem) continue;
      throw err;
    }
  }
}

/** A location's bytes; undefined when nothing is there. An object is read whole at one version, through the worker's cache. */
export async function readLocation(location: string): Promise<Buffer | undefined> {
  location = reading(location);
  if (!isObjectUri(location)) return fromLocalFile(location, ({ file }) => file.readFile());
  return fromObjectVersion(location, async (store, key, head) =>
    buffer(await workerCache().read({ uri: location, version: head.etag, size: head.size }, () => Readable.from(store.read(key, { etag: head.etag })))),
  );
}

/**
 * Bytes [start, end) of a location (fewer where it ends sooner), and the size of the whole: a page
 * of a file read by offset (a shard plan), never the whole of it; undefined when nothing is there.
 * An object is read with a ranged GET of the version its HEAD saw, past the worker's cache, which
 * keeps whole objects only.
 */
export async function readLocationRange(location: string, start: number, end: number): Promise<{ bytes: Buffer; size: number } | undefined> {
  location = reading(location);
  if (!isObjectUri(location)) {
    return fromLocalFile(location, async ({ file, info }) => {
      const bytes = Buffer.alloc(Math.max(0, Math.min(end, info.size) - start));
      let at = 0;
      while (at < bytes.length) {
        const { bytesRead } = await file.read(bytes, at, bytes.length - at, start + at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return { bytes: bytes.subarray(0, at), size: info.size };
    });
  }
  return fromObjectVersion(location, async (store, key, head) => ({ bytes: await store.readAll(key, { etag: head.etag, start, end: Math.min(end, head.size) }), size: head.size }));
}

export async function readLocationText(location: string): Promise<string | undefined> {
  return (await readLocation(location))?.toString('utf8');
}

/** A location's text that must be there: nothing there fails naming it, as reading a missing file does. */
export async function readExistingText(location: string): Promise<string> {
  const text = await readLocationText(location);
  if (text === undefined) throw Object.assign(new Error(`ENOENT: nothing at ${location}`), { code: 'ENOENT' });
  return text;
}

/** Readers see the old content or the new, never part of either: one PUT in a bucket, a rename on disk. */
export async function writeLocation(location: string, data: string | Uint8Array): Promise<void> {
  location = writing(location);
  if (!isObjectUri(location)) return writeFileAtomic(location, data);
  const { store, key } = ObjectStore.at(location);
  await store.write(key, data);
}

/**
 * A file written in steps (a shard) under a local temporary name, which appears at its location
 * only on commit, whole: renamed into place on disk, uploaded with one PUT to a bucket (the local
 * file, in the scratch folder, removed once uploaded).
 */
export class PendingLocation {
  private constructor(
    readonly location: string,
    /** The local file to write. */
    readonly temp: string,
    private readonly local?: PendingFile,
  ) {}

  static async begin(location: string): Promise<PendingLocation> {
    location = writing(location);
    if (!isObjectUri(location)) {
      const local = await PendingFile.begin(location);
      return new PendingLocation(location, local.temp, local);
    }
    const dir = join(scratchDir(), 'uploads');
    await mkdir(dir, { recursive: true });
    return new PendingLocation(location, join(dir, writerTag()));
  }

  async commit(): Promise<void> {
    if (this.local) return this.local.commit();
    try {
      await uploadFile(this.temp, this.location);
    } finally {
      await this.discard();
    }
  }

  discard(): Promise<void> {
    return this.local ? this.local.discard() : rm(this.temp, { force: true });
  }
}

/** Puts a local file at a location whole: one PUT of its bytes as they stream, or a copy and a rename. */
export async function uploadFile(file: string, location: string): Promise<void> {
  location = writing(location);
  if (!isObjectUri(location)) return copyFileAtomic(file, location);
  const { store, key } = ObjectStore.at(location);
  await store.put(file, key);
}

/**
 * A location as a local file, for a program that opens files by path (the trainer): a local path
 * as it is; an object fetched into this worker's cache at one version (`known`, as a listing gave
 * it, or the one there now) and kept there until released.
 */
export async function pinLocalCopy(location: string, known?: { version: string; size: number }): Promise<PinnedFile> {
  location = reading(location);
  if (!isObjectUri(location)) return { path: location, release: async () => undefined };
  const { store, key } = ObjectStore.at(location);
  const object = known ?? (await store.head(key).then((head) => head && { version: head.etag, size: head.size }));
  if (!object) throw new ObjectStoreError(`object storage ${location}: no such object`, location, false, 'no-such-object');
  return workerCache().pin({ uri: location, ...object }, () => Readable.from(store.read(key, { etag: object.version })));
}

/** Copies a file or object whole (a figure, a contact sheet: it is held in memory on the way). */
export async function copyLocation(from: string, to: string): Promise<void> {
  if (!isObjectUri(from) && !isObjectUri(to)) return copyFileAtomic(reading(from), writing(to));
  const bytes = await readLocation(from);
  if (!bytes) throw new Error(`cannot copy ${from} to ${to}: there is nothing at ${from}`);
  await writeLocation(to, bytes);
}

export async function locationExists(location: string): Promise<boolean> {
  location = reading(location);
  if (isObjectUri(location)) {
    const { store, key } = ObjectStore.at(location);
    return (await store.head(key)) !== undefined;
  }
  try {
    await stat(location);
    return true;
  } catch (err) {
    if (absent(err)) return false;
    throw err;
  }
}

/** Every file or object under a folder location, sorted; hidden names (writes under way) are left out. */
export async function listLocation(dir: string): Promise<string[]> {
  dir = reading(dir);
  if (isObjectUri(dir)) {
    const { store, key } = ObjectStore.at(dir.replace(/\/+$/, ''));
    return (await store.list(key ? `${key}/` : '')).map((k) => `s3://${store.bucket}/${k}`).sort();
  }
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if (absent(err)) return [];
    throw err;
  }
  return entries
    .filter((e) => e.isFile() && !relative(dir, join(e.parentPath, e.name)).split(sep).some((part) => part.startsWith('.')))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Removes a folder location and everything under it; nothing there is no error. */
export async function deleteFolderLocation(dir: string): Promise<void> {
  dir = writing(dir);
  if (!isObjectUri(dir)) return rm(dir, { recursive: true, force: true });
  for (const object of await listLocation(dir)) await deleteLocation(object);
}

/** Removes a file or object; nothing there is no error. */
export async function deleteLocation(location: string): Promise<void> {
  location = writing(location);
  if (!isObjectUri(location)) return rm(location, { force: true });
  const { store, key } = ObjectStore.at(location);
  await store.delete(key);
}
