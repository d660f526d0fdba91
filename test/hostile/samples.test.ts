// A sample's problem stays the sample's: samples whose ids collide, whose json member is malformed,
// or whose image will not decode, many of them in one embed batch, each go to quarantine with a
// reason and a detail of its own, and the shard goes on. Through the real embedding path: the
// demo CNN test encoder (RANDOM weights) in onnxruntime's embed threads, and LanceDB, all under a
// data dir of this file's own.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encode as encodePng } from 'fast-png';
import sharp from 'sharp';
import type { SourceSpec } from '../../lib/config/sources';
import { Embedder } from '../../lib/embed/embedder';
import { prepareVectorDestination } from '../../lib/embed/prepare';
import { stageShard } from '../../lib/embed/stage-shard';
import { listShards } from '../../lib/sources/list-shards';
import { SourceError } from '../../lib/sources/shard-ref';
import { commitStagedShards } from '../../lib/vectors/commit';
import { openStore } from '../../lib/vectors/connect';
import type { Sample } from '../../lib/webdataset/sample';
import { writeShard } from '../../lib/webdataset/writer';
import { demoEmbedConfig, quarantineRows, storedVectors } from '../support/embedding';

const DATA = mkdtempSync(join(tmpdir(), 'septflow-hostile-samples-'));
process.env.SEPT_DATA_DIR = DATA;
after(() => rmSync(DATA, { recursive: true, force: true }));

const grayPng = (seed: number) => Buffer.from(encodePng({ width: 28, height: 28, data: new Uint8Array(784).map((_, i) => (i * seed) % 256), channels: 1, depth: 8 }));
/** Noise, so that every image compresses to another size: a detail that names a size names one image. */
const noise = (format: 'jpeg' | 'png' | 'webp', seed: number, side = 64) =>
  sharp({ create: { width: side, height: side, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 20 + seed } } })[format]().toBuffer();

/** The problems one batch holds: what each bad sample is, and the reason it must be quarantined with. */
interface Bad {
  key: string;
  files: Sample['files'];
  reason: string;
  /** What its detail must say (its own bytes, its own member), and must not (another format's words). */
  detail: RegExp;
  notDetail?: RegExp;
}

async function badSamples(): Promise<Bad[]> {
  const bad: Bad[] = [];
  // Decoded by sharp at once, on the libuv threads, where libvips keeps one error buffer for all.
  for (let i = 0; i < 4; i++) {
    const jpeg = await noise('jpeg', i);
    const cut = jpeg.subarray(0, Math.floor(jpeg.length * (0.3 + i / 10)));
    bad.push({ key: `cut-jpeg-${i}`, files: { jpg: cut }, reason: 'truncated', detail: new RegExp(`^jpeg of ${cut.length} bytes: `), notDetail: /png|webp/i });
    const webp = await noise('webp', i);
    const torn = webp.subarray(0, webp.length - 40 - i);
    bad.push({ key: `cut-webp-${i}`, files: { webp: torn }, reason: 'truncated', detail: new RegExp(`^webp of ${torn.length} bytes: `), notDetail: /jpe?g|png/i });
    const png = Buffer.from(await noise('png', i));
    png.fill(0x41, 100, 400 + i);
    bad.push({ key: `garbled-png-${i}`, files: { png }, reason: 'undecodable', detail: new RegExp(`^png of ${png.length} bytes: `), notDetail: /jpe?g|webp/i });
  }
  bad.push({ key: 'zero-bytes', files: { png: Buffer.alloc(0) }, reason: 'empty', detail: /^zero bytes$/ });
  bad.push({ key: 'text-named-png', files: { png: Buffer.from('a text file, not a PNG\n') }, reason: 'not-an-image', detail: /"a text f"/ });
  bad.push({ key: 'torn-json', files: { png: grayPng(91), json: Buffer.from('{"label": 3') }, reason: 'malformed-json', detail: /^json member torn-json\.json is not JSON/ });
  bad.push({ key: 'array-json', files: { png: grayPng(92), json: Buffer.from('[3]') }, reason: 'malformed-json', detail: /^json member array-json\.json holds an array, not an object$/ });
  bad.push({ key: 'no-image', files: { cls: Buffer.from('3') }, reason: 'missing-image', detail: /^no image member \(has cls\)$/ });
  return bad;
}

describe('bad samples in one embed batch', () => {
  after(() => Embedder.closeAll());

  it('go to quarantine each with its own reason and detail, a repeated id as well; every good sample is embedded once', async () => {
    const dir = join(DATA, 'batch');
    const good = Array.from({ length: 12 }, (_, i) => ({ key: `good-${String(i).padStart(2, '0')}`, files: { png: grayPng(i + 3), json: Buffer.from(`{"label": ${i % 3}}`) } }));
    const bad = await badSamples();
    // Bad samples between good ones; a later sample under good-04's id (not next to it: a tar's
    // consecutive members of one key are one sample).
    const repeat = { key: 'good-04', files: { png: grayPng(77) } };
    const samples = [...good.slice(0, 6), ...bad.map(({ key, files }) => ({ key, files })), repeat, ...good.slice(6)];
    await writeShard(join(dir, 'shards', 'hostile-000.tar'), samples);
    // One batch holds the whole shard.
    const config = await demoEmbedConfig(dir, [join(dir, 'shards')], { encoder: { maxPixels: 1_000_000, batchSize: 64 } });
    const destination = await prepareVectorDestination(config.encoder, config.store.uri);
    const [shard] = await listShards(config.pool.sources[0]);

    const staged = await stageShard(shard, destination);
    assert.deepEqual(staged, { shardId: shard.id, samples: samples.length, embedded: good.length, quarantined: bad.length + 1, status: 'staged' });
    await commitStagedShards(await openStore(destination.store), destination.encoderId, destination.dims, [shard]);

    const rows = await quarantineRows(destination.store, destination.encoderId);
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(byId.size, rows.length, 'one row per bad sample');
    for (const b of bad) {
      const row = byId.get(`${shard.source}/${b.key}`);
      assert.ok(row, `${b.key} is quarantined`);
      assert.equal(row.reason, b.reason, `${b.key}: ${row.detail}`);
      assert.match(row.detail, b.detail, b.key);
      if (b.notDetail) assert.doesNotMatch(row.detail, b.notDetail, `${b.key}: its detail tells of another image`);
    }
    assert.deepEqual(byId.get(`${shard.source}/good-04`), {
      id: `${shard.source}/good-04`,
      reason: 'duplicate-id',
      detail: `sample ${6 + bad.length + 1} (good-04.png) has the id of sample 5 (good-04.png, good-04.json), an earlier sample of shard ${shard.id}, which is kept`,
    });
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.deepEqual(stored.ids.sort(), good.map((g) => `${shard.source}/${g.key}`));
  });
});

describe('ids that collide in a folder', () => {
  after(() => Embedder.closeAll());

  it('keep the first image of each id in path order, whatever the shard cuts, and quarantine the others', async () => {
    const dir = join(DATA, 'folder');
    const root = join(dir, 'photos');
    mkdirSync(join(root, 'cat'), { recursive: true });
    const files: Record<string, Buffer> = {
      'a.jpg': await noise('jpeg', 1, 28),
      'a.png': grayPng(5),
      'b.png': grayPng(6),
      'cat/c.jpeg': await noise('jpeg', 2, 40),
      'cat/c.png': grayPng(7),
      'cat/c.webp': await noise('webp', 3, 28),
      'd.png': grayPng(8),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(root, name), bytes);
    const config = await demoEmbedConfig(dir, [root]);
    const destination = await prepareVectorDestination(config.encoder, config.store.uri);
    const spec: SourceSpec = { kind: 'folder', name: 'photos', path: root, shardSize: 1 };
    const shards = await listShards(spec);
    assert.deepEqual(shards.map((s) => s.span![1]), ['a.png', 'b.png', 'cat/c.webp', 'd.png'], 'an id never spans two shards');

    for (const shard of shards) await stageShard(shard, destination);
    await commitStagedShards(await openStore(destination.store), destination.encoderId, destination.dims, shards);

    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.deepEqual(stored.ids.sort(), ['photos/a', 'photos/b', 'photos/cat/c', 'photos/d']);
    const rows = (await quarantineRows(destination.store, destination.encoderId)).map((r) => [r.reason, r.detail]);
    const kept = (name: string, first: string, shard: string) => ['duplicate-id', `${join(root, name)} has the id of ${join(root, first)}, an earlier sample of shard ${shard}, which is kept`];
    assert.deepEqual(rows.sort(), [kept('a.png', 'a.jpg', 'photos/000000'), kept('cat/c.png', 'cat/c.jpeg', 'photos/000002'), kept('cat/c.webp', 'cat/c.jpeg', 'photos/000002')].sort());
  });
});

describe('ids that collide in a manifest', () => {
  it('are refused when the manifest is listed, naming the line, before any image is read', async () => {
    const dir = join(DATA, 'manifest');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.png'), grayPng(1));
    const lines = [{ id: 'a', uri: 'a.png' }, { id: 'b', uri: 'a.png' }, { id: 'a', uri: 'a.png' }];
    writeFileSync(join(dir, 'pool.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    await assert.rejects(listShards({ kind: 'manifest', path: join(dir, 'pool.jsonl'), shardSize: 2 }), (err: Error) => err instanceof SourceError && /pool\.jsonl line 3: duplicate id a$/.test(err.message));
  });
});
