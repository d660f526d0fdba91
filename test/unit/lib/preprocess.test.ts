import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { decode as decodePng, encode as encodePng } from 'fast-png';
import sharp from 'sharp';
import { BadSampleError, type Preprocessing, preprocessInto, tensorLength } from '../../../lib/preprocess';
import { declaredBytes, inflateImageData } from '../../../lib/preprocess/png-data';
import { canDecodeFast, decodePngFast } from '../../../lib/preprocess/png-fast';
import { decodeWithSharp } from '../../../lib/preprocess/sharp-decode';
import { readImageSize, readPngHeader, sniffFormat } from '../../../lib/preprocess/sniff';
import { writeTensor } from '../../../lib/preprocess/tensor';

const GRAY: Preprocessing = { channels: 1, size: 28, crop: 28, mean: [0.5], std: [0.5] };
const LIMITS = { maxPixels: 1_000_000 };

const grayPng = (width: number, height: number, pixel: (x: number, y: number) => number) =>
  Buffer.from(encodePng({ width, height, channels: 1, depth: 8, data: Uint8Array.from({ length: width * height }, (_, i) => pixel(i % width, Math.floor(i / width))) }));

async function tensor(bytes: Buffer, p: Preprocessing): Promise<Float32Array> {
  const out = new Float32Array(tensorLength(p));
  await preprocessInto(bytes, p, LIMITS, out, 0);
  return out;
}

async function reason(bytes: Buffer, p: Preprocessing = GRAY, limits = LIMITS): Promise<string> {
  try {
    await preprocessInto(bytes, p, limits, new Float32Array(tensorLength(p)), 0);
  } catch (err) {
    assert.ok(err instanceof BadSampleError, String(err));
    return err.reason;
  }
  return 'decoded';
}

describe('preprocessing', () => {
  it('decodes small PNGs on the fast path to exactly what sharp gives', async () => {
    const png = grayPng(28, 28, (x, y) => (x * 9 + y * 7) % 256);
    assert.ok(canDecodeFast(readPngHeader(png)!, GRAY));
    for (const p of [GRAY, { channels: 3 as const, size: 28, crop: 24, mean: [0.4, 0.5, 0.6], std: [0.2, 0.3, 0.4] }]) {
      const viaSharp = new Float32Array(tensorLength(p));
      writeTensor(await decodeWithSharp(png, p, LIMITS), p, viaSharp, 0);
      assert.deepEqual(await tensor(png, p), viaSharp);
    }
  });

  it('normalizes to (pixel / 255 - mean) / std, channels first', async () => {
    const out = await tensor(grayPng(28, 28, (x) => (x < 14 ? 0 : 255)), GRAY);
    assert.equal(out[0], -1);
    assert.equal(out[27], 1);
    const rgb = await tensor(grayPng(28, 28, () => 255), { channels: 3, size: 28, crop: 28, mean: [0, 0.5, 1], std: [1, 0.5, 0.25] });
    assert.deepEqual([rgb[0], rgb[784], rgb[2 * 784]], [1, 1, 0]);
  });

  it('resizes the shorter side and takes the center crop', async () => {
    // 168x56, left third black, middle third gray, right third white: resized to 84x28, the center crop is the gray third.
    const png = grayPng(168, 56, (x) => (x < 56 ? 0 : x < 112 ? 128 : 255));
    const out = await tensor(png, GRAY);
    assert.equal(out.length, 28 * 28);
    // Columns next to the crop's edges blend with the neighbouring thirds in resampling; the interior is pure gray.
    for (const v of [out[3], out[24], out[27 * 28 + 14]]) assert.ok(Math.abs(v - (128 / 255 - 0.5) / 0.5) < 0.02, String(v));
  });

  it('applies EXIF orientation', async () => {
    // Stored 40 wide and 20 tall, top half white; orientation 6 turns it 90 degrees clockwise: 20 wide, 40 tall, white on the right.
    const raw = Buffer.from(Uint8Array.from({ length: 40 * 20 * 3 }, (_, i) => (Math.floor(i / 3 / 40) < 10 ? 255 : 0)));
    const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    const out = await tensor(jpeg, { ...GRAY, size: 20, crop: 20 });
    const at = (x: number, y: number) => out[y * 20 + x];
    assert.ok(at(2, 10) < -0.8 && at(17, 10) > 0.8, `left ${at(2, 10)}, right ${at(17, 10)}`);
  });

  it('names the reason of every bad image', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } }).jpeg().toBuffer();
    assert.equal(await reason(Buffer.alloc(0)), 'empty');
    assert.equal(await reason(Buffer.from('{"not": "an image"}')), 'not-an-image');
    assert.equal(await reason(jpeg.subarray(0, jpeg.length >> 1)), 'truncated');
    assert.equal(await reason(grayPng(28, 28, () => 0).subarray(0, 60)), 'truncated');
    // The pixel limit is checked from the PNG header, before anything is inflated.
    assert.equal(await reason(grayPng(1001, 1000, () => 0)), 'too-many-pixels');
    assert.equal(await reason(jpeg, GRAY, { maxPixels: 4000 }), 'too-many-pixels');
    assert.equal(await reason(jpeg, { ...GRAY, size: 64, crop: 64 }), 'decoded');
  });

  it('decodes every filter type and channel layout on the fast path', async () => {
    let seed = 7;
    const noise = () => (seed = (seed * 48271) % 2147483647) % 256;
    const filters = new Set<number>();
    for (const channels of [1, 2, 3, 4] as const) {
      // Noise in some columns, ramps in others: libpng's adaptive filtering then picks every filter type.
      const raw = Buffer.from(Array.from({ length: 40 * 28 * channels }, (_, i) => (i % 7 < 3 ? noise() : (i * 5) % 256)));
      let image = sharp(raw, { raw: { width: 40, height: 28, channels } });
      if (channels <= 2) image = image.toColourspace('b-w');
      const png = await image.png({ adaptiveFiltering: true }).toBuffer();
      const header = readPngHeader(png)!;
      assert.equal([0, 4, 2, 6][channels - 1], header.colorType);
      const stride = 40 * channels + 1;
      const idat: Buffer[] = [];
      for (let pos = 8; pos < png.length; pos += 12 + png.readUInt32BE(pos)) if (png.toString('latin1', pos + 4, pos + 8) === 'IDAT') idat.push(png.subarray(pos + 8, pos + 8 + png.readUInt32BE(pos)));
      const scanlines = inflateSync(Buffer.concat(idat));
      for (let y = 0; y < 28; y++) filters.add(scanlines[y * stride]);
      // fast-png, an independent decoder, was this path's decoder before it inflated with a bound.
      assert.deepEqual(Buffer.from(decodePngFast(png, header).data), Buffer.from(decodePng(png).data as Uint8Array), `${channels} channels`);
    }
    assert.deepEqual([...filters].sort(), [0, 1, 2, 3, 4]);
  });

  it('leaves interlaced PNGs to sharp', async () => {
    const png = await sharp(Buffer.alloc(28 * 28, 90), { raw: { width: 28, height: 28, channels: 1 } }).png({ progressive: true }).toBuffer();
    assert.equal(readPngHeader(png)!.interlaced, true);
    assert.equal(canDecodeFast(readPngHeader(png)!, GRAY), false);
    assert.equal(await reason(png), 'decoded');
  });

  it('refuses decompression bombs after bounded work: PNG data past its header, and sizes over the limit as stored or as resized', async () => {
    // 28x28 declares 812 bytes of scanlines; these 16 MiB of zeros deflate to 16 kB.
    const png = grayPng(28, 28, () => 0);
    const idat = deflateSync(Buffer.alloc(16 * 2 ** 20));
    const chunk = Buffer.alloc(12 + idat.length);
    chunk.writeUInt32BE(idat.length, 0);
    chunk.write('IDAT', 4, 'latin1');
    idat.copy(chunk, 8);
    const bomb = Buffer.concat([png.subarray(0, 33), chunk, png.subarray(png.length - 12)]);
    assert.ok(canDecodeFast(readPngHeader(bomb)!, GRAY));
    assert.equal(await reason(bomb), 'too-many-pixels');
    // Not for the fast path (resampled to 14): refused before sharp, whose libspng would inflate it all.
    assert.equal(await reason(bomb, { ...GRAY, size: 14, crop: 14 }), 'too-many-pixels');
    // 1 x 40,000 passes the stored-size check (40,000 pixels) but resizes to 28 x 1,120,000.
    assert.equal(await reason(grayPng(1, 40_000, () => 0)), 'too-many-pixels');
    const strip = await sharp({ create: { width: 4000, height: 2, channels: 3, background: '#888' } }).jpeg().toBuffer();
    assert.equal(await reason(strip), 'too-many-pixels');
    assert.equal(await reason(strip, { ...GRAY, size: 2, crop: 2 }), 'decoded');
  });

  it('inflates the image data of every kind of PNG to exactly the size its header declares', async () => {
    const photo = () => sharp({ create: { width: 37, height: 23, channels: 4, background: { r: 200, g: 30, b: 90, alpha: 0.6 }, noise: { type: 'gaussian', mean: 120, sigma: 40 } } });
    const kinds: [string, Buffer][] = [
      ['RGBA', await photo().png().toBuffer()],
      ['RGB interlaced', await photo().removeAlpha().png({ progressive: true }).toBuffer()],
      ['gray + alpha', await photo().toColourspace('b-w').png().toBuffer()],
      ['16-bit RGB', await photo().removeAlpha().toColourspace('rgb16').png().toBuffer()],
      ['palette, 8 bits', await photo().png({ palette: true, colours: 200 }).toBuffer()],
      ['palette, 1 bit, interlaced', await photo().png({ palette: true, colours: 2, progressive: true }).toBuffer()],
    ];
    for (const [name, png] of kinds) {
      const header = readPngHeader(png)!;
      assert.equal(inflateImageData(png, header).length, declaredBytes(header), name);
      assert.equal(await reason(png, { ...GRAY, size: 23, crop: 23 }), 'decoded', name);
    }
  });

  it('reads the stored size of JPEG and WebP (lossy, lossless, extended) from their headers', async () => {
    const image = sharp({ create: { width: 300, height: 170, channels: 4, background: { r: 9, g: 99, b: 199, alpha: 0.5 } } });
    const cases: [string, Buffer][] = [
      ['jpeg', await image.clone().jpeg().toBuffer()],
      ['progressive jpeg with EXIF', await image.clone().jpeg({ progressive: true }).withMetadata({ orientation: 6 }).toBuffer()],
      ['lossy webp', await image.clone().removeAlpha().webp().toBuffer()],
      ['lossless webp', await image.clone().webp({ lossless: true }).toBuffer()],
      ['extended webp (alpha)', await image.clone().webp().toBuffer()],
    ];
    for (const [name, bytes] of cases) assert.deepEqual(readImageSize(sniffFormat(bytes) as 'jpeg' | 'webp', bytes), { width: 300, height: 170 }, name);
  });
});
