// Image bombs in every format the embedder takes (PNG, JPEG, WebP: lib/preprocess/sniff.ts), other
// formats under an image's name, images that fill an embed batch's bytes, and the unusual but good
// images a real pool holds, in one shard, through the real embedding path: the tar reader, decoding
// in onnxruntime's embed threads with the demo CNN test encoder (RANDOM weights), LanceDB, under a
// data dir of this file's own. A bomb is a small file whose header claims, or whose data inflates
// to, far more than it holds. Each bomb is quarantined before it costs a decode; every good image
// is embedded once.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { crc32, createDeflate } from 'node:zlib';
import sharp from 'sharp';
import { parseRunConfig } from '../../lib/config/validate';
import { Embedder } from '../../lib/embed/embedder';
import { prepareVectorDestination } from '../../lib/embed/prepare';
import { stageShard } from '../../lib/embed/stage-shard';
import { DEMO_CNN, ensureTestEncoder } from '../../lib/encoder/test-encoders';
import { listShards } from '../../lib/sources/list-shards';
import { commitStagedShards } from '../../lib/vectors/commit';
import { openStore } from '../../lib/vectors/connect';
import { BLOCK, encodeMember } from '../../lib/webdataset/tar-format';
import { quarantineRows, storedVectors } from '../support/embedding';

const DATA = mkdtempSync(join(tmpdir(), 'septflow-hostile-images-'));
process.env.SEPT_DATA_DIR = DATA;
// Embed batches of at most 1 MiB of encoded images: the worker's own setting, lowered (lib/input-limits.ts).
process.env.SEPT_MAX_BATCH_BYTES = '1MiB';
after(() => rmSync(DATA, { recursive: true, force: true }));

/** A 3-channel image with noise, so that no two encode alike. */
const photo = (width: number, height: number, seed: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 40 + seed, g: 120, b: 200 - seed }, noise: { type: 'gaussian', mean: 128, sigma: 20 + seed } } });

function pngChunk(type: string, data: Buffer): Buffer {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return chunk;
}

/** A PNG with this header (bit depth, color type) and this zlib stream as its image data. */
function png(width: number, height: number, depth: number, colorType: number, zlibStream: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr), pngChunk('IDAT', zlibStream), pngChunk('IEND', Buffer.alloc(0))]);
}

/** `mib` MiB of zeros as a zlib stream, deflated a MiB at a time: about a thousandth of that. */
async function zlibZeros(mib: number): Promise<Buffer> {
  const deflate = createDeflate();
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(2 ** 20);
  for (let i = 0; i < mib; i++) deflate.write(zeros);
  await new Promise((resolve) => deflate.end(() => resolve(undefined)));
  return Buffer.concat(out);
}

/** The offset of a JPEG's frame header (SOFn), found the way a decoder walks its segments. */
function jpegFrame(jpeg: Buffer): number {
  for (let pos = 2; ; pos += 2 + jpeg.readUInt16BE(pos + 2)) {
    const marker = jpeg[pos + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return pos;
  }
}

/** A real image's bytes with its header made to claim width x height. */
async function claiming(format: 'jpeg' | 'lossy webp' | 'lossless webp' | 'extended webp', width: number, height: number): Promise<Buffer> {
  if (format === 'jpeg') {
    const jpeg = await photo(28, 28, 1).jpeg().toBuffer();
    const sof = jpegFrame(jpeg);
    jpeg.writeUInt16BE(height, sof + 5);
    jpeg.writeUInt16BE(width, sof + 7);
    return jpeg;
  }
  if (format === 'lossy webp') {
    const webp = await photo(28, 28, 2).webp().toBuffer();
    assert.equal(webp.toString('latin1', 12, 16), 'VP8 ');
    webp.writeUInt16LE(width, 26);
    webp.writeUInt16LE(height, 28);
    return webp;
  }
  if (format === 'lossless webp') {
    const webp = await photo(28, 28, 3).webp({ lossless: true }).toBuffer();
    assert.equal(webp.toString('latin1', 12, 16), 'VP8L');
    const bits = webp.readUInt32LE(21);
    webp.writeUInt32LE(((bits & ~0xfffffff) | ((height - 1) << 14) | (width - 1)) >>> 0, 21);
    return webp;
  }
  const webp = await photo(28, 28, 4).ensureAlpha(0.5).webp().toBuffer();
  assert.equal(webp.toString('latin1', 12, 16), 'VP8X');
  webp.writeUIntLE(width - 1, 24, 3);
  webp.writeUIntLE(height - 1, 27, 3);
  return webp;
}

/** Images a real pool holds that are unusual to decode; each must embed. */
async function goodImages(): Promise<Record<string, Buffer>> {
  const raw = Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 37) % 256));
  const fromRaw = () => sharp(raw, { raw: { width: 40, height: 30, channels: 3 } });
  const frames = await Promise.all([5, 6, 7].map((s) => photo(32, 32, s).png().toBuffer()));
  return {
    'exif-rotated.jpg': await fromRaw().jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    'cmyk.jpg': await photo(40, 30, 8).toColourspace('cmyk').jpeg().toBuffer(),
    'progressive.jpg': await photo(300, 200, 9).jpeg({ progressive: true }).toBuffer(),
    'gray.jpg': await photo(30, 40, 10).toColourspace('b-w').jpeg().toBuffer(),
    'rgb16.png': await fromRaw().toColourspace('rgb16').png().toBuffer(),
    'gray16.png': await fromRaw().toColourspace('grey16').png().toBuffer(),
    'rgba.png': await photo(28, 28, 11).ensureAlpha(0.4).png().toBuffer(),
    'gray-alpha.png': await photo(28, 28, 12).ensureAlpha(0.7).toColourspace('b-w').png().toBuffer(),
    'palette-1bit.png': await photo(50, 28, 13).png({ palette: true, colours: 2 }).toBuffer(),
    'interlaced.png': await photo(28, 60, 14).png({ progressive: true }).toBuffer(),
    'lossy.webp': await photo(60, 28, 15).webp().toBuffer(),
    'lossless-alpha.webp': await photo(28, 28, 16).ensureAlpha(0.3).webp({ lossless: true }).toBuffer(),
    'animated.webp': await sharp(frames, { join: { animated: true } }).webp().toBuffer(),
    // 433 kB each, uncompressed: three do not fit one 1 MiB batch.
    'noise-a.png': await photo(380, 380, 22).png({ compressionLevel: 0 }).toBuffer(),
    'noise-b.png': await photo(380, 380, 23).png({ compressionLevel: 0 }).toBuffer(),
    'noise-c.png': await photo(380, 380, 24).png({ compressionLevel: 0 }).toBuffer(),
  };
}

describe('hostile images', () => {
  after(() => Embedder.closeAll());

  it('bombs in every accepted format and other formats under image names are quarantined; every good image embeds once', { timeout: 60_000 }, async () => {
    const bombs: Record<string, [Buffer, string, RegExp]> = {
      // Fast path (8-bit gray at the encoder's size): 256 MiB of scanlines behind a 28x28 header.
      'png-data-bomb.png': [png(28, 28, 8, 0, await zlibZeros(256)), 'too-many-pixels', /^png: image data inflates past the 812 bytes its 28x28 header declares/],
      // 16-bit: sharp's path, where libspng would inflate all of it.
      'png16-data-bomb.png': [png(28, 28, 16, 0, await zlibZeros(64)), 'too-many-pixels', /^png: image data inflates past the 1596 bytes/],
      'png-header-bomb.png': [png(100_000, 100_000, 8, 2, await zlibZeros(1)), 'too-many-pixels', /^100000x100000 exceeds the pixel limit 1000000$/],
      'png-strip.png': [await sharp(Buffer.alloc(30_000), { raw: { width: 30_000, height: 1, channels: 1 } }).png().toBuffer(), 'too-many-pixels', /^30000x1 resized to a shorter side of 28 is 23520000 pixels/],
      'jpeg-header-bomb.jpg': [await claiming('jpeg', 65_000, 65_000), 'too-many-pixels', /^65000x65000 exceeds the pixel limit/],
      'jpeg-strip.jpg': [await photo(4000, 1, 17).jpeg().toBuffer(), 'too-many-pixels', /^4000x1 resized to a shorter side of 28 is 3136000 pixels/],
      'webp-lossy-bomb.webp': [await claiming('lossy webp', 16_383, 16_383), 'too-many-pixels', /^16383x16383 exceeds/],
      'webp-lossless-bomb.webp': [await claiming('lossless webp', 16_384, 16_384), 'too-many-pixels', /^16384x16384 exceeds/],
      'webp-extended-bomb.webp': [await claiming('extended webp', 16_777_216, 2), 'too-many-pixels', /^16777216x2 exceeds/],
      'gif.png': [await photo(28, 28, 18).gif().toBuffer(), 'not-an-image', /^no PNG, JPEG or WebP signature/],
      'tiff.png': [await photo(28, 28, 19).tiff().toBuffer(), 'not-an-image', /^no PNG, JPEG or WebP signature/],
      'heif.jpg': [await photo(28, 28, 20).heif({ compression: 'av1' }).toBuffer(), 'not-an-image', /^no PNG, JPEG or WebP signature/],
      // Alone more than an embed batch may hold; its neighbours go to batches of their own.
      'huge-noise.png': [await photo(700, 700, 21).png({ compressionLevel: 0 }).toBuffer(), 'too-large', /^image of 1,4\d\d,\d\d\d bytes, more than an embed batch may hold \(SEPT_MAX_BATCH_BYTES = 1,048,576\)$/],
      'svg.png': [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9000000" height="9000000"><image href="file:///etc/passwd"/></svg>'), 'not-an-image', /^no PNG, JPEG or WebP signature/],
    };
    const good = await goodImages();
    const members = [...Object.entries(good), ...Object.entries(bombs).map(([name, [bytes]]) => [name, bytes] as const)];
    // Good and bad alternate, so that every embed batch holds both.
    members.sort(([a], [b]) => (a < b ? -1 : 1));
    const shard = join(DATA, 'shards', 'images.tar');
    mkdirSync(join(DATA, 'shards'));
    writeFileSync(shard, Buffer.concat([...members.map(([name, bytes]) => encodeMember(name, bytes)), Buffer.alloc(2 * BLOCK)]));

    // The run lowers the worker's pixel cap (it could not raise it).
    const config = parseRunConfig({
      name: 'images',
      pool: { sources: [{ kind: 'webdataset', name: 'img', shards: join(DATA, 'shards') }] },
      target: { preset: 'mnist' },
      encoder: { model: await ensureTestEncoder(DEMO_CNN, join(DATA, 'encoders')), batchSize: 8, maxPixels: 1_000_000 },
      store: { uri: join(DATA, 'lancedb') },
      outputDir: join(DATA, 'runs'),
    });
    const destination = await prepareVectorDestination(config.encoder, config.store.uri);
    const [ref] = await listShards(config.pool.sources[0]);
    const staged = await stageShard(ref, destination);
    assert.deepEqual(staged, { shardId: ref.id, samples: members.length, embedded: Object.keys(good).length, quarantined: Object.keys(bombs).length, status: 'staged' });
    await commitStagedShards(await openStore(destination.store), destination.encoderId, destination.dims, [ref]);

    const id = (name: string) => `img/${name.slice(0, name.indexOf('.'))}`;
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.deepEqual(stored.ids.sort(), Object.keys(good).map(id).sort());
    const rows = new Map((await quarantineRows(destination.store, destination.encoderId)).map((r) => [r.id, r]));
    assert.equal(rows.size, Object.keys(bombs).length);
    for (const [name, [, reason, detail]] of Object.entries(bombs)) {
      const row = rows.get(id(name));
      assert.ok(row, `${name} is quarantined`);
      assert.equal(row.reason, reason, `${name}: ${row.detail}`);
      assert.match(row.detail, detail, name);
    }
  });
});
