import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readShard, ShardFormatError, type Sample, webdatasetKey, writeShard, writeShardSet } from '../../../lib/webdataset';
import { tempDir } from '../../support/tmp';

function samples(n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `dir/sample-${String(i).padStart(4, '0')}`,
    // Odd sizes exercise the 512-byte padding; some members span several blocks.
    files: { png: randomBytes(37 + i * 101), json: Buffer.from(JSON.stringify({ id: `src/sample-${i}`, label: i % 10 })) },
  }));
}

async function readAll(path: string): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of readShard(path)) out.push(s);
  return out;
}

/** Reads until the shard ends or fails; returns what was yielded and the error. */
async function readUntilError(path: string): Promise<{ yielded: Sample[]; error?: unknown }> {
  const yielded: Sample[] = [];
  try {
    for await (const s of readShard(path)) yielded.push(s);
    return { yielded };
  } catch (error) {
    return { yielded, error };
  }
}

describe('WebDataset shards', () => {
  for (const ext of ['tar', 'tar.gz']) {
    it(`round-trips bytes and metadata through a .${ext} shard`, async () => {
      const path = join(tempDir(), `shard.${ext}`);
      const written = samples(25);
      assert.equal(await writeShard(path, written), 25);
      assert.deepEqual(await readAll(path), written);
    });
  }

  it('keeps long member paths (PAX headers)', async () => {
    const path = join(tempDir(), 'long.tar');
    const key = `${'deep/'.repeat(40)}x${'y'.repeat(120)}`;
    const written = [{ key, files: { jpg: Buffer.from('abc') } }];
    await writeShard(path, written);
    assert.deepEqual(await readAll(path), written);
  });

  it('reads tars made by GNU tar', async (t) => {
    const { spawnSync } = await import('node:child_process');
    const dir = tempDir();
    writeFileSync(join(dir, 'a.png'), 'png-bytes');
    writeFileSync(join(dir, 'a.json'), '{"label":1}');
    writeFileSync(join(dir, 'b.png'), 'more');
    const res = spawnSync('tar', ['-cf', join(dir, 'gnu.tar'), '-C', dir, 'a.png', 'a.json', 'b.png']);
    if (res.status !== 0) return t.skip('tar not available');
    const got = await readAll(join(dir, 'gnu.tar'));
    assert.deepEqual(got.map((s) => [s.key, Object.keys(s.files).sort()]), [['a', ['json', 'png']], ['b', ['png']]]);
  });

  it('names the shard and byte offset of a truncation and never yields a half sample', async () => {
    const path = join(tempDir(), 'cut.tar');
    const written = samples(10);
    await writeShard(path, written);
    const full = statSync(path).size;
    // Cut inside the 7th sample's image member: samples 0..5 are complete, 6 is half there.
    const offsets: number[] = [];
    let pos = 0;
    for (const s of written) {
      offsets.push(pos);
      for (const bytes of Object.values(s.files)) pos += 512 + Math.ceil(bytes.length / 512) * 512;
    }
    truncateSync(path, offsets[6] + 512 + 100);
    const { yielded, error } = await readUntilError(path);
    assert.ok(error instanceof ShardFormatError, String(error));
    assert.match(error.message, /cut\.tar/);
    assert.match(error.message, /truncated inside member 'dir\/sample-0006\.png'/);
    assert.equal(error.offset, offsets[6] + 512 + 100);
    assert.deepEqual(yielded, written.slice(0, 6), 'complete samples before the cut are yielded, the cut one is not');
    assert.ok(full > offsets[6]);
  });

  it('treats a shard cut at a member boundary as truncated, not complete', async () => {
    const path = join(tempDir(), 'boundary.tar');
    const written = samples(3);
    await writeShard(path, written);
    truncateSync(path, statSync(path).size - 1024);
    const { yielded, error } = await readUntilError(path);
    assert.ok(error instanceof ShardFormatError);
    assert.match(error.message, /end-of-archive marker missing/);
    assert.deepEqual(yielded, written.slice(0, 2), 'the last sample may be missing members, so it is not yielded');
  });

  it('names a corrupt header by offset', async () => {
    const path = join(tempDir(), 'corrupt.tar');
    await writeShard(path, samples(3));
    const bytes = readFileSync(path);
    bytes[1024 + 10] ^= 0xff; // inside the second member's header name: checksum no longer matches
    writeFileSync(path, bytes);
    const { yielded, error } = await readUntilError(path);
    assert.ok(error instanceof ShardFormatError);
    assert.equal(error.offset, 1024);
    assert.match(error.message, /checksum mismatch/);
    assert.equal(yielded.length, 0);
  });

  it('fails, and does not hang, on a truncated gzip shard', async () => {
    const path = join(tempDir(), 'cut.tar.gz');
    await writeShard(path, samples(20));
    truncateSync(path, Math.floor(statSync(path).size / 2));
    const { error } = await readUntilError(path);
    assert.ok(error instanceof ShardFormatError, String(error));
    assert.match(error.message, /cut\.tar\.gz/);
  });

  it('rejects garbage that is not a tar at all', async () => {
    const path = join(tempDir(), 'noise.tar');
    writeFileSync(path, randomBytes(4096));
    const { error } = await readUntilError(path);
    assert.ok(error instanceof ShardFormatError);
    assert.equal(error.offset, 0);
  });
});

describe('numbered shard sets', () => {
  const cases: { samples: number; perShard: number; sizes: number[] }[] = [
    { samples: 0, perShard: 3, sizes: [] },
    { samples: 2, perShard: 3, sizes: [2] },
    { samples: 3, perShard: 3, sizes: [3] },
    { samples: 7, perShard: 3, sizes: [3, 3, 1] },
    { samples: 4, perShard: 1, sizes: [1, 1, 1, 1] },
  ];
  for (const c of cases) {
    it(`rolls ${c.samples} samples over every ${c.perShard} into shards of ${JSON.stringify(c.sizes)}`, async () => {
      const dir = tempDir();
      const written = samples(c.samples);
      const set = await writeShardSet(dir, 'part', c.perShard, written);
      assert.deepEqual(set.shards, c.sizes.map((_, i) => join(dir, `part-${String(i).padStart(6, '0')}.tar`)));
      assert.equal(set.samples, c.samples);
      const read: Sample[][] = [];
      for (const shard of set.shards) read.push(await readAll(shard));
      assert.deepEqual(read.map((r) => r.length), c.sizes);
      assert.deepEqual(read.flat(), written, 'every sample once, in order');
    });
  }

  it('leaves only whole shards when the samples fail midway', async () => {
    const dir = tempDir();
    async function* failing(): AsyncGenerator<Sample> {
      yield* samples(4);
      throw new Error('source gone');
    }
    await assert.rejects(writeShardSet(dir, 'part', 3, failing()), /source gone/);
    assert.deepEqual(readdirSync(dir), ['part-000000.tar'], 'the closed shard, no temporary file of the open one');
  });

  it('turns sample ids into keys the writer accepts', () => {
    assert.equal(webdatasetKey('pool/img.v2/a.b'), 'pool/img_v2/a_b');
  });
});
