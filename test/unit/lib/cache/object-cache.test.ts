import assert from 'node:assert/strict';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { type CacheWriter, type CachedObjectKey, ObjectCache } from '../../../../lib/cache/object-cache';
import { workerSettingsFromEnv } from '../../../../lib/config/worker-settings';
import { tempDir } from '../../../support/tmp';

/** A store of objects by URI at their current version, counting the fetches that reach it. */
function fakeStore() {
  const objects = new Map<string, string>();
  const fetches: string[] = [];
  return {
    fetches,
    put(uri: string, body: string): CachedObjectKey {
      objects.set(uri, body);
      return { uri, version: `v-${body}`, size: Buffer.byteLength(body) };
    },
    fetch(key: CachedObjectKey): () => Readable {
      return () => {
        fetches.push(key.uri);
        return Readable.from([Buffer.from(objects.get(key.uri)!)]);
      };
    },
  };
}

const entries = (dir: string) => readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n));
const bytesIn = (dir: string) => entries(dir).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
const body = (name: string, size: number) => name.padEnd(size, '.');

describe('the object cache', () => {
  it('serves a second read from disk, and a changed object as a new entry, never the stale one', async () => {
    const dir = tempDir('septflow-cache-');
    const cache = new ObjectCache({ dir, maxBytes: 1000 });
    const store = fakeStore();
    const v1 = store.put('s3://b/plan.jsonl', 'first');
    assert.equal(await text(await cache.read(v1, store.fetch(v1))), 'first');
    assert.equal(await text(await cache.read(v1, store.fetch(v1))), 'first');
    assert.equal(store.fetches.length, 1, 'the second read is a hit');
    const v2 = store.put('s3://b/plan.jsonl', 'second');
    assert.equal(await text(await cache.read(v2, store.fetch(v2))), 'second');
    assert.equal(store.fetches.length, 2);
  });

  it('evicts the least recently used entries first and stays within its bound', async () => {
    const dir = tempDir('septflow-cache-');
    const cache = new ObjectCache({ dir, maxBytes: 1000 });
    const store = fakeStore();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => store.put(`s3://b/${n}`, body(n, 300)));
    for (const key of [a, b, c]) await text(await cache.read(key, store.fetch(key)));
    await text(await cache.read(a, store.fetch(a)));
    await text(await cache.read(d, store.fetch(d)));
    assert.deepEqual(entries(dir).sort(), [a, c, d].map((k) => cache.fileOf(k).slice(dir.length + 1)).sort(), 'b, used longest ago, made room for d');
    assert.ok(bytesIn(dir) <= 1000);

    for (let i = 0; i < 20; i++) {
      const key = store.put(`s3://b/more-${i}`, body(`more-${i}`, 100 + 37 * i));
      assert.equal(await text(await cache.read(key, store.fetch(key))), body(`more-${i}`, 100 + 37 * i));
      assert.ok(bytesIn(dir) <= 1000, `within 1000 bytes after fill ${i}: ${bytesIn(dir)}`);
    }
  });

  it('fills an entry once for concurrent readers in one process, and stays whole for two processes sharing the folder', async () => {
    const dir = tempDir('septflow-cache-');
    const store = fakeStore();
    const key = store.put('s3://b/shard.tar', body('shard', 500));
    const cache = new ObjectCache({ dir, maxBytes: 1000 });
    const reads = await Promise.all(Array.from({ length: 8 }, () => cache.read(key, store.fetch(key)).then(text)));
    assert.ok(reads.every((r) => r === body('shard', 500)));
    assert.equal(store.fetches.length, 1, 'one fill for eight concurrent readers');

    // Two processes are two caches on one folder: each may fill, every reader sees the whole object.
    const other = store.put('s3://b/other.tar', body('other', 400));
    const [first, second] = [new ObjectCache({ dir, maxBytes: 1000 }), new ObjectCache({ dir, maxBytes: 1000 })];
    const both = await Promise.all([first, second, first, second].map((c) => c.read(other, store.fetch(other)).then(text)));
    assert.ok(both.every((r) => r === body('other', 400)));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temporary file left behind');
    assert.ok(bytesIn(dir) <= 1000);
  });

  it('streams an object larger than the whole cache through without caching it', async () => {
    const dir = tempDir('septflow-cache-');
    const cache = new ObjectCache({ dir, maxBytes: 100 });
    const store = fakeStore();
    const big = store.put('s3://b/big.tar', body('big', 101));
    assert.equal(await text(await cache.read(big, store.fetch(big))), body('big', 101));
    assert.equal(await text(await cache.read(big, store.fetch(big))), body('big', 101));
    assert.equal(store.fetches.length, 2, 'read from the store each time');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('fails only the call that meets a full disk, naming the entry, and leaves nothing behind', async () => {
    const dir = tempDir('septflow-cache-');
    let full = true;
    // A disk that fills up after a few bytes, the way a real one reports it.
    const write: CacheWriter = (from, file) =>
      new Promise((resolve, reject) => {
        const out = createWriteStream(file);
        out.write('partial', () => {
          out.close();
          from.destroy();
          if (full) reject(Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' }));
          else resolve();
        });
      });
    const cache = new ObjectCache({ dir, maxBytes: 1000, write });
    const store = fakeStore();
    const key = store.put('s3://b/plan.jsonl', 'plan');
    await assert.rejects(cache.read(key, store.fetch(key)), (err: Error) => {
      assert.ok(err.message.includes(cache.fileOf(key)), err.message);
      assert.match(err.message, /no space left.*s3:\/\/b\/plan\.jsonl.*ENOSPC/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), [], 'no partial entry, no temporary file');
    full = false;
    await cache.read(key, store.fetch(key)).then(text);
    assert.equal(entries(dir).length, 1, 'the next call fills the entry');
  });

  it('keeps a pinned entry for a reader by path until it is released, whatever room others need', async () => {
    const dir = tempDir('septflow-cache-');
    const cache = new ObjectCache({ dir, maxBytes: 1000 });
    const store = fakeStore();
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => store.put(`s3://b/${n}.tar`, body(n, 300)));
    const pinned = await cache.pin(a, store.fetch(a));
    assert.equal(pinned.path, cache.fileOf(a));
    assert.equal(readFileSync(pinned.path, 'utf8'), body('a', 300));
    for (const key of [b, c, d]) await text(await cache.read(key, store.fetch(key)));
    assert.ok(existsSync(pinned.path), 'a, used longest ago, stays while pinned');
    assert.equal(existsSync(cache.fileOf(b)), false, 'b made room instead');
    const again = await cache.pin(a, store.fetch(a));
    assert.equal(again.path, pinned.path, 'a second holder pins the same file');
    assert.equal(store.fetches.filter((u) => u === a.uri).length, 1, 'from disk');

    // Released by both holders, it is an ordinary entry again, last used at its release: c goes first.
    await pinned.release();
    await again.release();
    await text(await cache.read(e, store.fetch(e)));
    assert.ok(existsSync(cache.fileOf(a)));
    assert.equal(existsSync(cache.fileOf(c)), false);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.pin-')), [], 'no marker left');
  });

  it('ignores the pin of a process that is gone, and pins an object larger than the whole cache', async () => {
    const dir = tempDir('septflow-cache-');
    const cache = new ObjectCache({ dir, maxBytes: 600 });
    const store = fakeStore();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => store.put(`s3://b/${n}.tar`, body(n, 300)));
    await text(await cache.read(a, store.fetch(a)));
    // Above the largest pid_max Linux allows (2^22): no process has it.
    const gone = 2 ** 22 + 1;
    writeFileSync(join(dir, `.${cache.fileOf(a).slice(dir.length + 1)}.pin-${gone}-0`), a.uri);
    for (const key of [b, c]) await text(await cache.read(key, store.fetch(key)));
    assert.equal(existsSync(cache.fileOf(a)), false, 'evicted: its pin died with its process');
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.pin-')), [], 'the stale marker removed');

    const big = store.put('s3://b/big.tar', body('big', 700));
    const file = await cache.pin(big, store.fetch(big));
    assert.equal(readFileSync(file.path, 'utf8'), body('big', 700));
    await file.release();
  });

  it('lives under the data dir unless SEPT_CACHE_DIR says otherwise, bounded by SEPT_CACHE_BYTES', () => {
    const defaults = workerSettingsFromEnv({ SEPT_DATA_DIR: '/data/sept' });
    assert.equal(defaults.cacheDir, '/data/sept/cache');
    assert.equal(defaults.cacheBytes, 10 * 2 ** 30);
    const set = workerSettingsFromEnv({ SEPT_CACHE_DIR: '/scratch/cache', SEPT_CACHE_BYTES: '512MiB' });
    assert.deepEqual([set.cacheDir, set.cacheBytes], ['/scratch/cache', 512 * 2 ** 20]);
    assert.equal(workerSettingsFromEnv({ SEPT_CACHE_BYTES: '4096' }).cacheBytes, 4096);
    assert.throws(() => workerSettingsFromEnv({ SEPT_CACHE_BYTES: 'lots' }), /SEPT_CACHE_BYTES/);
  });
});
