import assert from 'node:assert/strict';
import { existsSync, promises as fsPromises, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { copyFileAtomic, PendingFile, produceFileAtomic, produceFolderAtomic, tempPathBeside, writeFileAtomic, writerTag } from '../../../../lib/files/atomic-write';
import { listLocation } from '../../../../lib/storage/location';
import { tempDir } from '../../../support/tmp';

/** Resolves once `parties` callers have arrived: lets racers all finish their work before any publishes it. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    if (++arrived === parties) release();
    return all;
  };
}

describe('atomic writes', () => {
  it('gives every writer its own hidden temporary name beside the target', () => {
    const path = join('/data', 'run', 'stats.json');
    const names = new Set(Array.from({ length: 100 }, () => tempPathBeside(path)));
    assert.equal(names.size, 100);
    for (const name of names) {
      assert.equal(dirname(name), dirname(path));
      assert.match(basename(name), new RegExp(`^\\.stats\\.json\\.tmp-${process.pid}-[0-9a-f]+$`));
    }
  });

  it('keeps writers apart by 64 random bits, not by the process id that containers sharing a volume repeat', () => {
    const tags = Array.from({ length: 1000 }, () => writerTag());
    assert.equal(new Set(tags).size, tags.length);
    for (const tag of tags) assert.match(tag, new RegExp(`^${process.pid}-[0-9a-f]{16}$`));
  });

  it('syncs the bytes before the rename, and the folder after it', async (t) => {
    const dir = tempDir();
    const path = join(dir, 'record.json');
    const steps: string[] = [];
    const { open, rename } = fsPromises;
    t.mock.method(fsPromises, 'open', async (...args: Parameters<typeof open>) => {
      const handle = await open(...args);
      const sync = handle.sync.bind(handle);
      const what = args[0] === dir ? 'the folder' : basename(String(args[0])).startsWith('.record.json.tmp-') ? 'the temporary file' : String(args[0]);
      handle.sync = () => (steps.push(`sync ${what}`), sync());
      return handle;
    });
    t.mock.method(fsPromises, 'rename', (from: string, to: string) => (steps.push(`rename to ${basename(to)}`), rename(from, to)));
    await writeFileAtomic(path, '{"key":"k"}');
    assert.deepEqual(steps, ['sync the temporary file', 'rename to record.json', 'sync the folder']);
    assert.equal(readFileSync(path, 'utf8'), '{"key":"k"}');
  });

  it('leaves the old file whole when its writer dies between writing and renaming, or the rename fails', async (t) => {
    const dir = tempDir();
    const path = join(dir, 'record.json');
    await writeFileAtomic(path, 'old');
    // Killed after writing its bytes: neither commit nor discard ever runs.
    const killed = await PendingFile.begin(path);
    await writeFile(killed.temp, 'new, but cut sho');
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(await listLocation(dir), [path], 'listings skip what the killed writer left');

    t.mock.method(fsPromises, 'rename', () => Promise.reject(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' })));
    await assert.rejects(writeFileAtomic(path, 'newer'), /EIO/);
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir).sort(), [basename(killed.temp), 'record.json'].sort(), 'the failed writer removed its temporary file');
  });

  it('lets concurrent writers of one path all succeed, leaving one of their contents whole and no temporary file', async () => {
    const dir = tempDir();
    const path = join(dir, 'nested', 'plan.jsonl');
    const contents = ['a', 'b', 'c', 'd'].map((c) => Buffer.alloc(1 << 20, c));
    for (let round = 0; round < 5; round++) {
      await Promise.all(contents.map((data) => writeFileAtomic(path, data)));
      const written = readFileSync(path);
      assert.ok(contents.some((c) => c.equals(written)), 'the file is one writer’s content, whole');
      assert.deepEqual(readdirSync(dirname(path)), ['plan.jsonl']);
    }
  });

  it('leaves neither a temporary file nor a target when producing fails, and keeps an older target', async () => {
    const dir = tempDir();
    const path = join(dir, 'sheet.png');
    const broken = (temp: string) => writeFile(temp, 'half').then(() => Promise.reject(new Error('encoder crashed')));
    await assert.rejects(produceFileAtomic(path, broken), /encoder crashed/);
    assert.deepEqual(readdirSync(dir), []);

    await writeFileAtomic(path, 'old');
    await assert.rejects(produceFileAtomic(path, broken), /encoder crashed/);
    assert.deepEqual(readdirSync(dir), ['sheet.png']);
    assert.equal(readFileSync(path, 'utf8'), 'old');
  });

  it('returns what the producer returned, and copies files', async () => {
    const dir = tempDir();
    const from = join(dir, 'a.svg');
    assert.equal(await produceFileAtomic(from, async (temp) => (await writeFile(temp, '<svg/>'), 42)), 42);
    await copyFileAtomic(from, join(dir, 'figures', 'b.svg'));
    assert.equal(readFileSync(join(dir, 'figures', 'b.svg'), 'utf8'), '<svg/>');
    assert.deepEqual(readdirSync(join(dir, 'figures')), ['b.svg']);
  });

  it('shows a file written in steps only once committed, and drops it on discard', async () => {
    const dir = tempDir();
    const kept = await PendingFile.begin(join(dir, 'shards', 'shard-000000.tar'));
    await writeFile(kept.temp, 'tar bytes');
    assert.ok(!existsSync(kept.path));
    await kept.commit();
    assert.equal(await readFile(kept.path, 'utf8'), 'tar bytes');

    const dropped = await PendingFile.begin(join(dir, 'shards', 'shard-000001.tar'));
    await writeFile(dropped.temp, 'partial');
    await dropped.discard();
    assert.deepEqual(readdirSync(join(dir, 'shards')), ['shard-000000.tar']);
  });
});

describe('atomic folders', () => {
  const complete = (folder: string) => existsSync(join(folder, 'index.json'));
  const buildAs = (who: string, arrive: () => Promise<void>) => async (staging: string) => {
    for (const name of ['shard-0.tar', 'shard-1.tar']) await writeFile(join(staging, name), who);
    await writeFile(join(staging, 'index.json'), JSON.stringify({ who }));
    await arrive();
    return who;
  };

  it('lets racers that all finish succeed: the first rename wins whole, the others discard theirs', async () => {
    const parent = tempDir();
    const dir = join(parent, 'demo', 'mnist');
    const arrive = barrier(3);
    const results = await Promise.all(['a', 'b', 'c'].map((who) => produceFolderAtomic(dir, buildAs(who, arrive), complete)));
    assert.deepEqual(results, ['a', 'b', 'c']);
    const { who } = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { who: string };
    for (const name of ['shard-0.tar', 'shard-1.tar']) assert.equal(readFileSync(join(dir, name), 'utf8'), who, 'every file from the winner');
    assert.deepEqual(readdirSync(dirname(dir)), ['mnist'], 'no staging folder left behind');
  });

  it('replaces a folder that is not current, and leaves nothing when the build fails', async () => {
    const parent = tempDir();
    const dir = join(parent, 'train');
    await mkdir(dir);
    await writeFile(join(dir, 'leftover.tar'), 'old layout');
    await produceFolderAtomic(dir, buildAs('new', async () => undefined), complete);
    assert.deepEqual(readdirSync(dir).sort(), ['index.json', 'shard-0.tar', 'shard-1.tar']);
    assert.deepEqual(readdirSync(parent), ['train']);

    const failed = join(parent, 'test');
    await assert.rejects(
      produceFolderAtomic(failed, () => Promise.reject(new Error('no labeled samples')), complete),
      /no labeled samples/,
    );
    assert.deepEqual(readdirSync(parent), ['train']);
  });
});
