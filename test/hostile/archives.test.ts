// Hostile archives and files where a file is expected, through the real embedding path: the tar
// reader, the demo CNN test encoder (RANDOM weights) in onnxruntime's embed threads and LanceDB,
// under a data dir of this file's own. Every input is generated here, small: a bomb is a small file
// that claims or inflates to much. Each case: the worker survives, in bounded time (the test's
// timeout), with the right quarantine reason or refusal, and every good sample embedded once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import type { SourceSpec } from '../../lib/config/sources';
import { ConfigError, parseRunConfig } from '../../lib/config/validate';
import { Embedder } from '../../lib/embed/embedder';
import { prepareVectorDestination } from '../../lib/embed/prepare';
import { stageShard } from '../../lib/embed/stage-shard';
import { EncoderError } from '../../lib/encoder/errors';
import { resolveEncoderSettings } from '../../lib/encoder/exported';
import { DEMO_CNN, ensureTestEncoder } from '../../lib/encoder/test-encoders';
import { checkRunInputs } from '../../lib/pipeline/check-inputs';
import { listShards } from '../../lib/sources/list-shards';
import { SourceError } from '../../lib/sources/shard-ref';
import { commitStagedShards } from '../../lib/vectors/commit';
import { openStore } from '../../lib/vectors/connect';
import { readShard, ShardFormatError } from '../../lib/webdataset/reader';
import { BLOCK, encodeFileHeader, encodeMember, paddedSize } from '../../lib/webdataset/tar-format';
import { quarantineRows, storedVectors } from '../support/embedding';

const DATA = mkdtempSync(join(tmpdir(), 'septflow-hostile-archives-'));
process.env.SEPT_DATA_DIR = DATA;
// This worker lets runs read /dev too, so that /dev/zero meets the regular-file check, not the roots.
process.env.SEPT_READ_ROOTS = '/dev';
// A member over the cap in a small file: the worker's own setting, lowered (lib/input-limits.ts).
process.env.SEPT_MAX_MEMBER_BYTES = '1MiB';
after(() => rmSync(DATA, { recursive: true, force: true }));

const MODEL = ensureTestEncoder(DEMO_CNN, join(DATA, 'encoders'));

const grayPng = (seed: number) => Buffer.from(encodePng({ width: 28, height: 28, data: new Uint8Array(784).map((_, i) => (i * seed) % 256), channels: 1, depth: 8 }));
const good = (key: string, seed: number) => encodeMember(`${key}.png`, grayPng(seed));
const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc(paddedSize(data.length) - data.length)]);
const tar = (...members: Buffer[]) => Buffer.concat([...members, Buffer.alloc(2 * BLOCK)]);
const longNameHeader = (type: 'x' | 'L', data: Buffer) => Buffer.concat([encodeFileHeader(type === 'x' ? 'PaxHeader' : '././@LongLink', data.length, type), pad(data)]);

function write(path: string, bytes: Buffer): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/**
 * Lists a source and embeds each of its shards as the embedShard activity does, committing those
 * that staged. Returns each shard's outcome, the quarantine rows and the embedded ids.
 */
async function embed(name: string, source: SourceSpec) {
  const config = parseRunConfig({ name, pool: { sources: [source] }, target: { preset: 'mnist' }, encoder: { model: await MODEL, batchSize: 16 }, store: { uri: join(DATA, name, 'lancedb') }, outputDir: join(DATA, name, 'runs') });
  const destination = await prepareVectorDestination(config.encoder, config.store.uri);
  const shards = await listShards(source);
  const outcomes = await Promise.allSettled(shards.map((shard) => stageShard(shard, destination)));
  await commitStagedShards(await openStore(destination.store), destination.encoderId, destination.dims, shards.filter((_, i) => outcomes[i].status === 'fulfilled'));
  const rows = await quarantineRows(destination.store, destination.encoderId);
  const stored = (await storedVectors(destination.store, destination.encoderId, destination.dims)).ids;
  const failures = Object.fromEntries(outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[shards[i].id, o.reason as Error]] : [])));
  return { quarantined: Object.fromEntries(rows.map((r) => [r.id, r])), stored: stored.sort(), failures };
}

const webdataset = (name: string, folder: string): SourceSpec => ({ kind: 'webdataset', name, shards: folder });

describe('hostile archives', () => {
  after(() => Embedder.closeAll());

  it('PAX headers: a megabyte of records that once took a quadratic parse, and one over the header cap', { timeout: 60_000 }, async () => {
    const folder = join(DATA, 'pax-shards');
    // Records of length 2 that never reach a space: the old parser scanned the rest of the header for each.
    const quadratic = Buffer.from(`${'2x'.repeat(500_000)} \n`);
    const overCap = Buffer.concat([Buffer.from('24 path=renamed-x.png\n'), Buffer.alloc(2 * 2 ** 20, 0x7a)]);
    write(
      join(folder, 'pax.tar'),
      tar(
        good('good-0', 3),
        longNameHeader('x', quadratic),
        good('good-1', 4),
        longNameHeader('x', overCap),
        encodeMember('hidden.png', grayPng(5)),
        longNameHeader('L', Buffer.alloc(3 * 2 ** 20, 0x61)),
        encodeMember('long-hidden.png', grayPng(6)),
        good('good-2', 7),
      ),
    );
    const { quarantined, stored, failures } = await embed('pax', webdataset('pax', folder));
    assert.deepEqual(failures, {});
    assert.deepEqual(stored, ['pax/good-0', 'pax/good-1', 'pax/good-2']);
    assert.deepEqual(Object.keys(quarantined).sort(), ['pax/hidden', 'pax/long-hidden']);
    assert.equal(quarantined['pax/hidden'].reason, 'too-large');
    assert.match(quarantined['pax/hidden'].detail, /^member hidden\.png: its PAX header is 2,097,174 bytes, over the 1,048,576 a header may have \(SEPT_MAX_PAX_HEADER_BYTES\)$/);
    assert.match(quarantined['pax/long-hidden'].detail, /its GNU long-name header is 3,145,728 bytes/);
  });

  it('member sizes: one over the member cap is passed over unread; one that claims 8 GiB in a small file fails its shard', { timeout: 60_000 }, async () => {
    const folder = join(DATA, 'size-shards');
    write(join(folder, 'a-big.tar'), tar(good('good-0', 3), encodeMember('big.png', Buffer.alloc(2 * 2 ** 20, 1)), encodeMember('big.cls', Buffer.from('4')), good('good-1', 4)));
    write(join(folder, 'b-claims.tar'), Buffer.concat([good('claims-good', 5), encodeFileHeader('huge.png', 8 * 2 ** 30 - 1), Buffer.alloc(4 * BLOCK)]));
    const { quarantined, stored, failures } = await embed('sizes', webdataset('sizes', folder));
    assert.deepEqual(stored, ['sizes/good-0', 'sizes/good-1']);
    assert.equal(quarantined['sizes/big'].reason, 'too-large');
    assert.match(quarantined['sizes/big'].detail, /^member big\.png is 2,097,152 bytes, over the 1,048,576 a member may have \(SEPT_MAX_MEMBER_BYTES\)$/);
    assert.ok(failures['sizes/b-claims'] instanceof ShardFormatError);
    assert.match(failures['sizes/b-claims'].message, /truncated inside member 'huge\.png' \(8589934591 bytes\)/);
  });

  it('gzip: a shard that inflates past its ratio cap fails after bounded work; gzipped members are never inflated', { timeout: 60_000 }, async () => {
    const folder = join(DATA, 'gzip-shards');
    // 256 MiB of zeros behind a member header that claims them: 256 kB of gzip.
    const gzip = createGzip();
    const compressed: Buffer[] = [];
    gzip.on('data', (c: Buffer) => compressed.push(c));
    gzip.write(Buffer.concat([good('bomb-good', 3), encodeFileHeader('zeros.png', 256 * 2 ** 20)]));
    const zeros = Buffer.alloc(2 ** 20);
    for (let i = 0; i < 256; i++) gzip.write(zeros);
    await new Promise((resolve) => gzip.end(Buffer.alloc(2 * BLOCK), () => resolve(undefined)));
    write(join(folder, 'a-bomb.tar.gz'), Buffer.concat(compressed));
    const bombOfJson = gzipSync(Buffer.alloc(64 * 2 ** 20, 0x20));
    write(join(folder, 'b-members.tar.gz'), gzipSync(tar(good('good-0', 4), encodeMember('good-0.json.gz', gzipSync('{"label": 1}')), encodeMember('only-gz.png.gz', bombOfJson), good('good-1', 5))));
    const { quarantined, stored, failures } = await embed('gzip', webdataset('gzip', folder));
    assert.ok(failures['gzip/a-bomb'] instanceof ShardFormatError);
    assert.match(failures['gzip/a-bomb'].message, /gzip inflates past 100 times its compressed size \(SEPT_MAX_GZIP_RATIO\): a decompression bomb/);
    assert.deepEqual(stored, ['gzip/good-0', 'gzip/good-1']);
    assert.deepEqual(quarantined['gzip/only-gz'], { id: 'gzip/only-gz', reason: 'missing-image', detail: 'no image member (has png.gz)' });
  });

  it('truncated shards fail with the byte offset where they end; whole shards beside them embed', { timeout: 60_000 }, async () => {
    const folder = join(DATA, 'truncated-shards');
    const whole = tar(good('a', 3), good('b', 4), good('c', 5));
    write(join(folder, 'cut-in-member.tar'), whole.subarray(0, BLOCK + 100));
    write(join(folder, 'no-end-marker.tar'), whole.subarray(0, whole.length - 2 * BLOCK));
    write(join(folder, 'whole.tar'), tar(good('good-0', 6), good('good-1', 7)));
    const { stored, failures } = await embed('truncated', webdataset('truncated', folder));
    assert.deepEqual(stored, ['truncated/good-0', 'truncated/good-1']);
    assert.match(failures['truncated/cut-in-member'].message, /truncated inside member 'a\.png' \(\d+ bytes\) at byte offset 612$/);
    assert.match(failures['truncated/no-end-marker'].message, /truncated: end-of-archive marker missing at byte offset \d+$/);
  });

  it("names: '..' segments and absolute paths are quarantined; unicode and very long names are ids as they are", { timeout: 60_000 }, async () => {
    const folder = join(DATA, 'name-shards');
    const long = `${'deep/'.repeat(60)}${'n'.repeat(200)}`;
    write(
      join(folder, 'names.tar'),
      tar(
        encodeMember('../../escape.png', grayPng(3)),
        encodeMember('/etc/abs.png', grayPng(4)),
        encodeMember('a/../../up.png', grayPng(5)),
        good('ünïcødé/猫-🐈 x', 6),
        good(long, 7),
        good('plain', 8),
      ),
    );
    const { quarantined, stored, failures } = await embed('names', webdataset('names', folder));
    assert.deepEqual(failures, {});
    assert.deepEqual(stored, ['names/plain', `names/${long}`, 'names/ünïcødé/猫-🐈 x'].sort());
    assert.deepEqual(Object.fromEntries(Object.values(quarantined).map((q) => [q.id, q.reason])), {
      'names/../../escape': 'unsafe-name',
      'names//etc/abs': 'unsafe-name',
      'names/a/../../up': 'unsafe-name',
    });
    assert.equal(quarantined['names/a/../../up'].detail, `member name "a/../../up.png" leaves the archive's folder (a '..' segment or a leading '/')`);
    assert.ok(!existsSync(join(DATA, '..', 'escape.png')) && !existsSync('/etc/abs.png'), 'nothing is written where a name points');
  });

  it('symbolic and hard link members are never followed: their samples are quarantined', { timeout: 60_000 }, async () => {
    const src = join(DATA, 'link-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'good-0.png'), grayPng(3));
    writeFileSync(join(src, 'good-1.png'), grayPng(4));
    writeFileSync(join(src, 'mixed.png'), grayPng(5));
    symlinkSync('/etc/passwd', join(src, 'soft.png'));
    symlinkSync('/etc/hostname', join(src, 'mixed.cls'));
    linkSync(join(src, 'good-0.png'), join(src, 'hard.png'));
    const folder = join(DATA, 'link-shards');
    mkdirSync(folder);
    // GNU tar stores the second name of a file as a hard link to the first.
    execFileSync('tar', ['-cf', join(folder, 'links.tar'), '-C', src, 'good-0.png', 'hard.png', 'soft.png', 'mixed.png', 'mixed.cls', 'good-1.png']);
    const { quarantined, stored, failures } = await embed('links', webdataset('links', folder));
    assert.deepEqual(failures, {});
    assert.deepEqual(stored, ['links/good-0', 'links/good-1']);
    assert.deepEqual(
      Object.fromEntries(Object.values(quarantined).map((q) => [q.id, q.detail])),
      {
        'links/hard': 'member hard.png is a hardlink, not a regular file: links and special files in a shard are never followed',
        'links/soft': 'member soft.png is a symlink, not a regular file: links and special files in a shard are never followed',
        'links/mixed': 'member mixed.cls is a symlink, not a regular file: links and special files in a shard are never followed',
      },
    );
  });

  it('a brace pattern that names a billion shards is refused at the config entry point, before it is expanded', { timeout: 30_000 }, async () => {
    const config = parseRunConfig({
      name: 'braces',
      pool: { sources: [{ kind: 'webdataset', shards: join(DATA, 'bomb', 'p-{0..999999999}.tar') }] },
      target: { preset: 'mnist' },
      store: { uri: join(DATA, 'braces', 'lancedb') },
      outputDir: join(DATA, 'braces', 'runs'),
    });
    await assert.rejects(checkRunInputs(config), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /pool\.sources\[0\]: shard pattern .*p-\{0\.\.999999999\}\.tar expands to 1000000000 names, more than the 10000000 a pattern may name \(SEPT_MAX_SHARD_NAMES\)/);
      return true;
    });
    // Bounds past Number precision: once an endless loop or a count of NaN that passed every check.
    const nines = '9'.repeat(400);
    await assert.rejects(listShards({ kind: 'webdataset', shards: join(DATA, 'bomb', `p-{0..${nines}}.tar`) }), /SEPT_MAX_SHARD_NAMES/);
    await assert.rejects(listShards({ kind: 'webdataset', shards: join(DATA, 'bomb', `p-{${nines}..${nines}}.tar`) }), /no such shard or folder/);
  });
});

describe('FIFOs, devices and folders where a file is expected', () => {
  after(() => Embedder.closeAll());

  const fifo = (path: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    execFileSync('mkfifo', [path]);
    return path;
  };

  it('as manifest entries: quarantined, never opened for reading; the good entries embed', { timeout: 60_000 }, async () => {
    const dir = join(DATA, 'manifest');
    write(join(dir, 'good-0.png'), grayPng(3));
    write(join(dir, 'good-1.png'), grayPng(4));
    fifo(join(dir, 'fifo.png'));
    mkdirSync(join(dir, 'folder.png'));
    const lines = [
      { id: 'good-0', uri: 'good-0.png' },
      { id: 'fifo', uri: 'fifo.png' },
      { id: 'zero', uri: '/dev/zero' },
      { id: 'folder', uri: 'folder.png' },
      { id: 'good-1', uri: 'good-1.png' },
    ];
    write(join(dir, 'pool.jsonl'), Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join('')));
    const { quarantined, stored, failures } = await embed('manifest', { kind: 'manifest', name: 'm', path: join(dir, 'pool.jsonl'), shardSize: 1000 });
    assert.deepEqual(failures, {});
    assert.deepEqual(stored, ['m/good-0', 'm/good-1']);
    assert.deepEqual(
      Object.fromEntries(Object.values(quarantined).map((q) => [q.id, [q.reason, q.detail]])),
      {
        'm/fifo': ['not-a-regular-file', `${join(dir, 'fifo.png')} is a FIFO, not a regular file`],
        'm/zero': ['not-a-regular-file', '/dev/zero is a character device, not a regular file'],
        'm/folder': ['not-a-regular-file', `${join(dir, 'folder.png')} is a directory, not a regular file`],
      },
    );
  });

  it('in an image folder: never listed; as a shard file: refused at listing, naming it, and when read', { timeout: 60_000 }, async () => {
    const photos = join(DATA, 'photos');
    write(join(photos, 'a.png'), grayPng(3));
    fifo(join(photos, 'b.png'));
    write(join(photos, 'c.png'), grayPng(4));
    const { stored } = await embed('folder', { kind: 'folder', name: 'photos', path: photos, shardSize: 1000 });
    assert.deepEqual(stored, ['photos/a', 'photos/c']);

    const shards = join(DATA, 'fifo-shards');
    write(join(shards, 'a.tar'), tar(good('x', 3)));
    fifo(join(shards, 'b.tar'));
    await assert.rejects(listShards(webdataset('fifo-shards', shards)), (err: Error) => err instanceof SourceError && err.message === `${join(shards, 'b.tar')} is a FIFO, not a regular file`);
    // A shard that became a FIFO after it was listed: its stream is refused, not waited on.
    await assert.rejects(readShard(join(shards, 'b.tar')).next(), (err: Error) => err instanceof ShardFormatError && err.message.includes(`unreadable (${join(shards, 'b.tar')} is a FIFO, not a regular file)`));
  });

  it('as the encoder model or the export spec beside it: refused before anything reads it', { timeout: 60_000 }, async () => {
    const models: [string, RegExp][] = [
      [fifo(join(DATA, 'models', 'fifo.onnx')), /is a FIFO, not a regular file/],
      ['/dev/zero', /\/dev\/zero is a character device, not a regular file/],
      [join(DATA, 'models'), /is a directory, not a regular file/],
    ];
    for (const [model, message] of models) {
      const encoder = parseRunConfig({ name: 'model', pool: { sources: [{ kind: 'demo', dataset: 'mnist' }] }, target: { preset: 'mnist' }, encoder: { model } }).encoder;
      await assert.rejects(prepareVectorDestination(encoder, join(DATA, 'model-store')), (err: Error) => {
        assert.ok(err instanceof EncoderError, String(err));
        assert.equal(err.problem, 'model-invalid');
        assert.match(err.message, message);
        return true;
      });
    }
    // A FIFO as the export spec beside a good model.
    const model = await ensureTestEncoder(DEMO_CNN, join(DATA, 'spec-beside'));
    fifo(join(DATA, 'spec-beside', 'encoder.json'));
    const encoder = parseRunConfig({ name: 'model', pool: { sources: [{ kind: 'demo', dataset: 'mnist' }] }, target: { preset: 'mnist' }, encoder: { model } }).encoder;
    await assert.rejects(resolveEncoderSettings(encoder), /encoder\.model: the encoder\.json beside it, .*encoder\.json, is unreadable: .*encoder\.json is a FIFO, not a regular file/);
  });
});
