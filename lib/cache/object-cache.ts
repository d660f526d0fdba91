// A worker's local copies of objects from a bucket, bounded in bytes, least recently used out first.
// Never the only copy of anything: every entry can be fetched again from its store.
//
// One folder may be shared by several processes (two workers on one machine), and one process
// runs many activities at once, so the folder itself is the index: an entry is a file named by the
// hash of its URI and version, written under a temporary name and renamed (lib/files/atomic-write.ts),
// and its modification time is its last use. An entry is keyed by version (an ETag), so a changed
// object is a new entry and the old one ages out: nothing stale is ever served. Other names in the
// folder (the worker's scratch folder, lib/storage/location.ts) are no entries. Eviction scans the
// folder, so it is linear in the number of entries, which the byte bound keeps small for shards;
// between processes the bound can be exceeded briefly by the fills in flight.
//
// A program that reads files by path (the trainer) gets a pinned entry: a marker file beside it,
// `.<entry>.pin-<pid>-<random>`, keeps every process's eviction off it until released or until its
// process is gone, so the processes sharing a folder must share a process-id namespace (one machine
// or pod). Pinned entries are never evicted, whatever their size: they may hold the cache above its
// bound while a job runs, and become ordinary entries when released.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { workerSettingsFromEnv } from '../config/worker-settings';
import { produceFileAtomic } from '../files/atomic-write';

/** One version of one object: `version` is what changes when its bytes do (an S3 ETag). */
export interface CachedObjectKey {
  uri: string;
  version: string;
  size: number;
}

/** A cache entry kept on disk for a reader that opens it by path, until `release`. */
export interface PinnedFile {
  path: string;
  release(): Promise<void>;
}

/** Writes a fetched object's bytes to a file; the cache's own is a plain stream copy. */
export type CacheWriter = (from: Readable, file: string) => Promise<void>;

const writeStream: CacheWriter = (from, file) => pipeline(from, createWriteStream(file));

const ENTRY = /^[0-9a-f]{64}$/;
/** A temporary file of a fill: atomic-write names it `.<entry>.tmp-<pid>-<random>`. */
const PARTIAL = /^\.[0-9a-f]{64}\.tmp-/;
/** A pin marker: the entry it keeps, and the process that holds it. */
const PIN = /^\.([0-9a-f]{64})\.pin-(\d+)-/;
/** Older than this, a partial fill belongs to a process that died mid-write. */
const ABANDONED_MS = 60 * 60 * 1000;

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

export class ObjectCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly write: CacheWriter;
  /** Fills under way in this process, by entry file: a second reader waits for the first fill. */
  private readonly filling = new Map<string, Promise<void>>();
  /** Bytes of this process's fills under way, which the folder does not show yet. */
  private reserved = 0;
  /** Last-use times strictly increase within a process, so that LRU order holds within a millisecond. */
  private lastUse = 0;

  constructor(options: { dir: string; maxBytes: number; write?: CacheWriter }) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.write = options.write ?? writeStream;
  }

  /** The entry file of an object's version. */
  fileOf(key: CachedObjectKey): string {
    return join(this.dir, createHash('sha256').update(`${key.uri}\n${key.version}`).digest('hex'));
  }

  /**
   * The object's bytes: from its entry, or from `fetch`, kept as an entry on the way. An object
   * larger than the whole cache streams through uncached. A full disk fails this call, with the
   * entry's path, and leaves nothing behind.
   */
  async read(key: CachedObjectKey, fetch: () => Readable): Promise<Readable> {
    if (key.size > this.maxBytes) return fetch();
    const file = this.fileOf(key);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const hit = await this.openEntry(file);
      if (hit) return hit;
      await this.fillOnce(file, key, fetch);
    }
    // Evicted as soon as filled, twice: a cache too small for its load serves straight from the store.
    return fetch();
  }

  /**
   * The object's version as a local file, fetched into the cache unless there, and kept from
   * eviction until released: for a program that opens files by path (the trainer reads its shards
   * once per epoch). Unlike `read`, an object larger than the whole cache is kept too.
   */
  async pin(key: CachedObjectKey, fetch: () => Readable): Promise<PinnedFile> {
    const file = this.fileOf(key);
    await mkdir(this.dir, { recursive: true });
    // The marker comes first: an eviction that lists the folder from now on leaves the entry alone.
    const marker = join(this.dir, `.${basename(file)}.pin-${process.pid}-${randomBytes(6).toString('hex')}`);
    await writeFile(marker, key.uri);
    try {
      if (!(await this.exists(file))) await this.fillOnce(file, key, fetch);
      await this.touch(file);
    } catch (err) {
      await rm(marker, { force: true });
      throw err;
    }
    let released = false;
    return {
      path: file,
      release: async () => {
        if (released) return;
        released = true;
        await rm(marker, { force: true });
        await this.touch(file);
      },
    };
  }

  private async exists(file: string): Promise<boolean> {
    return (await stat(file).catch(() => undefined)) !== undefined;
  }

  private async openEntry(file: string): Promise<Readable | undefined> {
    let handle;
    try {
      // Open before touching: an entry evicted meanwhile stays readable through its open handle.
      handle = await open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    await this.touch(file);
    return handle.createReadStream();
  }

  private async touch(file: string): Promise<void> {
    this.lastUse = Math.max(Date.now(), this.lastUse + 1);
    const at = new Date(this.lastUse);
    await utimes(file, at, at).catch(() => undefined);
  }

  private fillOnce(file: string, key: CachedObjectKey, fetch: () => Readable): Promise<void> {
    let fill = this.filling.get(file);
    if (!fill) {
      fill = this.fill(file, key, fetch).finally(() => this.filling.delete(file));
      this.filling.set(file, fill);
    }
    return fill;
  }

  private async fill(file: string, key: CachedObjectKey, fetch: () => Readable): Promise<void> {
    this.reserved += key.size;
    try {
      await mkdir(this.dir, { recursive: true });
      await this.evict();
      const source = fetch();
      try {
        await produceFileAtomic(file, (temp) => this.write(source, temp));
      } catch (err) {
        source.destroy();
        const code = (err as NodeJS.ErrnoException).code;
        if (code && NO_SPACE.has(code)) throw new Error(`object cache ${file}: no space left while caching ${key.uri} (${code}); lower SEPT_CACHE_BYTES or free the disk under SEPT_CACHE_DIR`, { cause: err });
        throw err;
      }
      await this.touch(file);
    } finally {
      this.reserved -= key.size;
    }
  }

  /** Removes least recently used entries, pinned ones aside, until they fit beside what this process is filling. */
  private async evict(): Promise<void> {
    const entries: { file: string; size: number; usedAt: number; pinned: boolean }[] = [];
    const now = Date.now();
    const names = await readdir(this.dir);
    const pinned = new Set<string>();
    for (const name of names) {
      const pin = PIN.exec(name);
      if (!pin) continue;
      if (processAlive(Number(pin[2]))) pinned.add(pin[1]);
      else await rm(join(this.dir, name), { force: true });
    }
    for (const name of names) {
      const file = join(this.dir, name);
      const partial = PARTIAL.test(name);
      if (!partial && !ENTRY.test(name)) continue;
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      if (partial) {
        if (now - info.mtimeMs > ABANDONED_MS) await rm(file, { force: true });
        continue;
      }
      entries.push({ file, size: info.size, usedAt: info.mtimeMs, pinned: pinned.has(name) });
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0) + this.reserved;
    if (total <= this.maxBytes) return;
    entries.sort((a, b) => a.usedAt - b.usedAt || (a.file < b.file ? -1 : 1));
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (e.pinned) continue;
      // Another process may have evicted it first; a reader holding it open keeps reading.
      await rm(e.file, { force: true });
      total -= e.size;
    }
  }
}

/** Whether a process of this machine (this pid namespace) still runs: a pin of one that does not is stale. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const caches = new Map<string, ObjectCache>();

/**
 * This process's cache, as SEPT_CACHE_DIR and SEPT_CACHE_BYTES say now (lib/config/worker-settings.ts).
 * One instance per folder and bound, so concurrent activities share its fills.
 */
export function workerCache(env: NodeJS.ProcessEnv = process.env): ObjectCache {
  const { cacheDir, cacheBytes } = workerSettingsFromEnv(env);
  const id = `${cacheDir}\n${cacheBytes}`;
  let cache = caches.get(id);
  if (!cache) caches.set(id, (cache = new ObjectCache({ dir: cacheDir, maxBytes: cacheBytes })));
  return cache;
}
