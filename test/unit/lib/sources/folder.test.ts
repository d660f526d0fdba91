// Folder shards are self-describing: a folder and a span of its sorted paths, listed again by
// whoever reads the shard, so that any worker that can read the folder can read its shards.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ObjectStore, type ObjectInfo } from '../../../../lib/object-store';
import { dataDir } from '../../../../lib/paths';
import { folderShards, readFolderShard } from '../../../../lib/sources/folder';
import { overrideEnv } from '../../../support/env';
import { tempDir } from '../../../support/tmp';

function writeFiles(root: string, files: string[]): void {
  for (const file of files) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), file);
  }
}

const idsOf = async (shards: Awaited<ReturnType<typeof folderShards>>) => Promise.all(shards.map(async (s) => (await readFolderShard(s)).map((e) => e.id)));

/** Names whose order differs between a tree walk, a path-by-path sort and a byte sort, and names deeper down. */
const TRICKY = ['a.png', 'a/b.png', 'a-b/c.png', 'a.b/d.png', 'ab/e.png', 'b/f/g.png', 'b/f/h/i.png', 'b/f.png', 'é/j.png', 'z.png'];
const BYTE_ORDER = ['a-b/c', 'a.b/d', 'a', 'a/b', 'ab/e', 'b/f', 'b/f/g', 'b/f/h/i', 'z', 'é/j'];

describe('folder shards', () => {
  const setEnv = overrideEnv();
  const ownDataDir = dataDir();

  it('are the folder and a span of its paths: listing writes nothing, and another worker reads them with a data dir of its own', async () => {
    const dir = tempDir();
    const root = join(dir, 'photos');
    writeFiles(root, ['cat/a.png', 'cat/b.jpg', 'dog/c.webp', 'd.JPEG', 'notes.txt']);
    // The folder is where people keep their data, outside each worker's own data dir.
    setEnv({ SEPT_DATA_DIR: join(dir, 'planner'), SEPT_READ_ROOTS: root });
    const shards = await folderShards('photos', root, 2);
    assert.deepEqual(
      shards.map(({ id, path, format, span }) => ({ id, path, format, span })),
      [
        { id: 'photos/000000', path: root, format: 'folder', span: ['', 'cat/b.jpg'] },
        { id: 'photos/000001', path: root, format: 'folder', span: ['cat/b.jpg', 'dog/c.webp'] },
      ],
    );
    assert.equal(existsSync(join(dir, 'planner')), false, 'the planning worker wrote nothing');
    setEnv({ SEPT_DATA_DIR: join(dir, 'reader') });
    const entries = await Promise.all(shards.map(readFolderShard));
    assert.deepEqual(
      entries.map((shard) => shard.map(({ id, uri, label }) => ({ id, uri, label }))),
      [
        [
          { id: 'cat/a', uri: join(root, 'cat/a.png'), label: 'cat' },
          { id: 'cat/b', uri: join(root, 'cat/b.jpg'), label: 'cat' },
        ],
        [
          { id: 'd', uri: join(root, 'd.JPEG'), label: undefined },
          { id: 'dog/c', uri: join(root, 'dog/c.webp'), label: 'dog' },
        ],
      ],
    );
    assert.deepEqual(readdirSync(dir), ['photos']);
    // This process is a worker of its own again for the tests below (their folders under its data dir).
    setEnv({ SEPT_DATA_DIR: ownDataDir, SEPT_READ_ROOTS: '' });
  });

  it('lists a span again exactly, however the names sort between folders, for every shard size', async () => {
    const root = join(tempDir(), 'tricky');
    writeFiles(root, TRICKY);
    for (let size = 1; size <= TRICKY.length; size++) {
      const shards = await folderShards('tricky', root, size);
      const ids = await idsOf(shards);
      assert.deepEqual(ids.flat(), BYTE_ORDER, `shard size ${size}`);
      assert.ok(ids.every((shard, i) => shard.length === (i < ids.length - 1 ? size : BYTE_ORDER.length - size * i)), `shard size ${size}: ${JSON.stringify(ids)}`);
    }
  });

  it('fails the shard whose span gained or lost a file since it was listed, naming it; the other shards read as listed', async () => {
    const root = join(tempDir(), 'pets');
    writeFiles(root, ['cat/a.png', 'cat/c.png', 'dog/d.png', 'dog/e.png']);
    const shards = await folderShards('pets', root, 2);
    const changed = /image folder .*pets changed since shard pets\/000000 was listed \(files after '' up to 'cat\/c\.png' differ\): list the source again/;
    writeFiles(root, ['cat/b.png', 'fish/f.png']); // one in the first span, one past every span
    await assert.rejects(readFolderShard(shards[0]), changed);
    assert.deepEqual(await idsOf(shards.slice(1)), [['dog/d', 'dog/e']]);
    rmSync(join(root, 'cat/b.png'));
    assert.deepEqual(await idsOf(shards), [['cat/a', 'cat/c'], ['dog/d', 'dog/e']], 'as listed again');
    rmSync(join(root, 'cat/c.png'));
    await assert.rejects(readFolderShard(shards[0]), changed);
  });

  describe('in a bucket', () => {
    const keys = ['sets/a/0.png', 'sets/a/1.png', 'sets/a/notes.txt', 'sets/b/2.png', 'sets/b/3.png', 'sets/c/4.png', 'setsx/5.png'];
    const requests: { under: string; startAfter?: string }[] = [];
    const listObjects = ObjectStore.prototype.listObjects;
    // The store's side of ListObjectsV2: keys in byte order, from the prefix, past StartAfter.
    ObjectStore.prototype.listObjects = async function* (under: string, opts: { startAfter?: string } = {}): AsyncGenerator<ObjectInfo> {
      requests.push({ under, startAfter: opts.startAfter });
      for (const key of keys) if (key.startsWith(under) && (opts.startAfter === undefined || key > opts.startAfter)) yield { key, size: 10, etag: `"${key}"` };
    };
    after(() => (ObjectStore.prototype.listObjects = listObjects));

    it('lists each span from its start (StartAfter) and stops at its end', async () => {
      setEnv({ SEPT_READ_BUCKETS: 's3://pool/sets' });
      const shards = await folderShards('sets', 's3://pool/sets', 2);
      assert.deepEqual(shards.map((s) => s.span), [['', 'a/1.png'], ['a/1.png', 'b/3.png'], ['b/3.png', 'c/4.png']]);
      requests.length = 0;
      const entries = await readFolderShard(shards[1]);
      assert.deepEqual(entries.map(({ id, uri, label, version }) => ({ id, uri, label, version })), [
        { id: 'b/2', uri: 's3://pool/sets/b/2.png', label: 'b', version: '"sets/b/2.png"' },
        { id: 'b/3', uri: 's3://pool/sets/b/3.png', label: 'b', version: '"sets/b/3.png"' },
      ]);
      assert.deepEqual(requests, [{ under: 'sets/', startAfter: 'sets/a/1.png' }]);
      requests.length = 0;
      assert.deepEqual((await readFolderShard(shards[0])).map((e) => e.id), ['a/0', 'a/1']);
      assert.deepEqual(requests, [{ under: 'sets/', startAfter: undefined }]);
    });
  });
});
