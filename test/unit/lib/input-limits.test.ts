// The caps on input work (lib/input-limits.ts) where they are checked: the tar reader, source files,
// shard patterns. Inputs are built in memory; the hostile tier (test/hostile/) runs them end to end.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseRunConfig } from '../../../lib/config/validate';
import { encoderSpecOf } from '../../../lib/encoder/spec';
import { type InputLimits, inputLimitsFromEnv } from '../../../lib/input-limits';
import { readSourceFile, streamSourceFile } from '../../../lib/sources/source-files';
import { readShard, type Sample, ShardFormatError } from '../../../lib/webdataset';
import { BLOCK, encodeFileHeader, encodeMember, paddedSize, paxPath } from '../../../lib/webdataset/tar-format';
import { tempDir } from '../../support/tmp';

const LIMITS: InputLimits = { ...inputLimitsFromEnv({}), paxHeaderBytes: 4096, memberBytes: 64 * 1024 };

const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc(paddedSize(data.length) - data.length)]);
const paxHeader = (records: Buffer) => Buffer.concat([encodeFileHeader('PaxHeader', records.length, 'x'), pad(records)]);
const tar = (...members: Buffer[]) => Buffer.concat([...members, Buffer.alloc(2 * BLOCK)]);

/** One PAX record, its length prefix counting itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

/** The samples of a shard held in memory, delivered in chunks of `chunk` bytes. */
async function read(shard: string, bytes: Buffer, limits = LIMITS, chunk = 1 << 20): Promise<Sample[]> {
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
  const out: Sample[] = [];
  for await (const s of readShard(shard, Readable.from(chunks), limits)) out.push(s);
  return out;
}

const summary = (samples: Sample[]) => samples.map((s) => ({ key: s.key, members: Object.keys(s.files), reason: s.refused?.reason }));

describe('input limits', () => {
  it('are worker settings with defaults, parsed from the environment and refused when malformed', () => {
    assert.deepEqual(inputLimitsFromEnv({}), {
      paxHeaderBytes: 2 ** 20,
      memberBytes: 256 * 2 ** 20,
      gzipRatio: 100,
      shardPatternNames: 10_000_000,
      pixels: 64_000_000,
      batchBytes: 512 * 2 ** 20,
    });
    assert.equal(inputLimitsFromEnv({ SEPT_MAX_MEMBER_BYTES: '1MiB' }).memberBytes, 2 ** 20);
    assert.throws(() => inputLimitsFromEnv({ SEPT_MAX_BATCH_BYTES: '3GiB' }), /SEPT_MAX_BATCH_BYTES: at most 2GiB - 1/);
    assert.throws(() => inputLimitsFromEnv({ SEPT_MAX_PIXELS: 'lots' }), /invalid worker settings: SEPT_MAX_PIXELS/);
  });
});

describe('what a worker grants an encoder configuration', () => {
  const encoder = (settings: Record<string, unknown>) =>
    parseRunConfig({ name: 'caps', pool: { sources: [{ kind: 'demo', dataset: 'mnist' }] }, target: { preset: 'mnist' }, encoder: { model: 'encoders/x.onnx', ...settings } }).encoder;

  it('cuts batches to the tensor bytes a batch may hold, and lets a run lower the pixel cap, never raise it', () => {
    const rgb = { channels: 3, size: 224, crop: 224, mean: [0.5], std: [0.5] };
    // 3 x 224 x 224 float32 = 602,112 bytes: 891 of them fit 512 MiB.
    assert.equal(encoderSpecOf(encoder({ ...rgb, batchSize: 4096 })).batchSize, 891);
    assert.equal(encoderSpecOf(encoder({ ...rgb, batchSize: 64 })).batchSize, 64);
    assert.equal(encoderSpecOf(encoder({ maxPixels: 1000 })).limits.maxPixels, 1000);
    assert.equal(encoderSpecOf(encoder({ maxPixels: 10 ** 12 })).limits.maxPixels, 64_000_000);
  });

  it('refuses a configuration that no image could meet, naming the field', () => {
    assert.throws(() => encoderSpecOf(encoder({ size: 9000, crop: 28 })), /encoder\.size: every image decodes to at least 9000 x 9000 pixels, over the pixel limit 64000000/);
    assert.throws(() => encoderSpecOf(encoder({ channels: 3, size: 7000, crop: 7000, mean: [0.5], std: [0.5] })), /encoder\.crop: one image's input tensor is 588000000 bytes, more than an embed batch may hold on this worker \(SEPT_MAX_BATCH_BYTES = 536870912\)/);
  });
});

describe('the tar reader under its caps', () => {
  it('parses a PAX header in time linear in its size, whatever it holds', { timeout: 10_000 }, () => {
    // Records of length 2 that never reach a space: the old parser scanned to the end of the header for each.
    assert.equal(paxPath(Buffer.from(`${'2x'.repeat(2 ** 21)} `)), undefined);
    assert.equal(paxPath(Buffer.concat([paxRecord('mtime', '1.5'), paxRecord('path', 'dir/é.png'), paxRecord('uname', 'x')])), 'dir/é.png');
    assert.equal(paxPath(Buffer.concat([paxRecord('path', 'a.png'), Buffer.from('99999999999999999999999 path=b.png\n')])), 'a.png', 'a length past the end ends the header');
  });

  it('quarantines the member behind a long-name header over the cap, and reads on', async () => {
    const long = paxHeader(Buffer.concat([paxRecord('path', 'x.png'), paxRecord('comment', 'z'.repeat(5000))]));
    const samples = await read('s.tar', tar(encodeMember('a.png', Buffer.from('a')), long, encodeMember('short-name.png', Buffer.from('b')), encodeMember('c.png', Buffer.from('c'))));
    assert.deepEqual(summary(samples), [
      { key: 'a', members: ['png'], reason: undefined },
      { key: 'short-name', members: [], reason: 'too-large' },
      { key: 'c', members: ['png'], reason: undefined },
    ]);
    assert.match(samples[1].refused!.detail, /PAX header is 5,\d{3} bytes, over the 4,096 a header may have \(SEPT_MAX_PAX_HEADER_BYTES\)/);
  });

  it('passes over a member over the cap unread, and refuses link, device and FIFO members and names that leave the folder', async () => {
    const samples = await read(
      's.tar',
      tar(
        encodeMember('big.png', Buffer.alloc(100_000)),
        encodeMember('big.cls', Buffer.from('3')),
        encodeFileHeader('soft.png', 0, '2'),
        encodeFileHeader('hard.png', 0, '1'),
        encodeFileHeader('fifo.png', 0, '6'),
        encodeMember('../../etc/evil.png', Buffer.from('e')),
        encodeMember('/abs.png', Buffer.from('e')),
        encodeMember('a..b/fine.png', Buffer.from('f')),
      ),
    );
    assert.deepEqual(summary(samples), [
      { key: 'big', members: ['cls'], reason: 'too-large' },
      { key: 'soft', members: [], reason: 'not-a-regular-file' },
      { key: 'hard', members: [], reason: 'not-a-regular-file' },
      { key: 'fifo', members: [], reason: 'not-a-regular-file' },
      { key: '../../etc/evil', members: [], reason: 'unsafe-name' },
      { key: '/abs', members: [], reason: 'unsafe-name' },
      { key: 'a..b/fine', members: ['png'], reason: undefined },
    ]);
    assert.match(samples[0].refused!.detail, /member big\.png is 100,000 bytes, over the 65,536 a member may have \(SEPT_MAX_MEMBER_BYTES\)/);
    assert.match(samples[1].refused!.detail, /member soft\.png is a symlink, not a regular file/);
  });

  it('reads a large member from small chunks in linear time', { timeout: 20_000 }, async () => {
    // 64 MiB in 16 KiB chunks, as gunzip delivers them: joining chunk by chunk copied about 128 GiB.
    const member = Buffer.alloc(64 * 2 ** 20, 7);
    const [sample] = await read('s.tar', tar(encodeMember('big.png', member)), { ...LIMITS, memberBytes: 2 ** 30 }, 16 * 1024);
    assert.equal(sample.files.png.length, member.length);
  });

  it('fails a gzip shard that inflates past its ratio cap, after bounded work, and reads an ordinary one', { timeout: 20_000 }, async () => {
    const ordinary = tar(encodeMember('a.png', Buffer.from('a')), encodeMember('a.json', Buffer.from('{"label": 1}')));
    assert.deepEqual(summary(await read('s.tar.gz', gzipSync(ordinary))), [{ key: 'a', members: ['png', 'json'], reason: undefined }]);
    // 128 MiB of zeros behind a member header claiming them: 128 kB of gzip.
    const bomb = gzipSync(tar(encodeMember('zeros.png', Buffer.alloc(128 * 2 ** 20))));
    await assert.rejects(read('bomb.tar.gz', bomb, { ...LIMITS, memberBytes: 2 ** 31 }), (err: unknown) => {
      assert.ok(err instanceof ShardFormatError);
      assert.match(err.message, /shard bomb\.tar\.gz: gzip inflates past 100 times its compressed size \(SEPT_MAX_GZIP_RATIO\): a decompression bomb/);
      assert.ok(err.offset < 32 * 2 ** 20, `stopped after ${err.offset} bytes`);
      return true;
    });
  });
});

describe('source files', () => {
  it('are regular files, read only up to a size cap', async () => {
    // This worker lets runs read what the test reads (lib/storage/access.ts).
    process.env.SEPT_READ_ROOTS = ['/dev', tmpdir(), __dirname].join(delimiter);
    const dir = tempDir();
    mkdirSync(join(dir, 'folder.png'));
    await assert.rejects(readSourceFile('/dev/zero'), { name: 'FileRefusedError', reason: 'not-a-regular-file', message: '/dev/zero is a character device, not a regular file' });
    await assert.rejects(readSourceFile(join(dir, 'folder.png')), { reason: 'not-a-regular-file', message: /folder\.png is a directory/ });
    await assert.rejects(readSourceFile(__filename, { maxBytes: 100 }), { reason: 'too-large', message: /input-limits\.test\.ts is [\d,]+ bytes: over the 100 bytes a file may have \(SEPT_MAX_MEMBER_BYTES\)/ });
    assert.ok((await readSourceFile(__filename, { maxBytes: 1e6 })).toString().includes('source files'));
  });

  it('are streamed only when regular: a device fails its stream and its shard, never yields its bytes', async () => {
    process.env.SEPT_READ_ROOTS = ['/dev', tmpdir(), __dirname].join(delimiter);
    await assert.rejects(buffer(streamSourceFile('/dev/zero')), { name: 'FileRefusedError', message: '/dev/zero is a character device, not a regular file' });
    await assert.rejects(readShard('/dev/zero').next(), (err: unknown) => {
      assert.ok(err instanceof ShardFormatError);
      assert.equal(err.message, 'shard /dev/zero: unreadable (/dev/zero is a character device, not a regular file) at byte offset 0');
      return true;
    });
    assert.equal((await buffer(streamSourceFile(__filename, { start: 3, end: 6 }))).toString(), 'The');
  });
});
