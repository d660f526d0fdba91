import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode as encodePng } from 'fast-png';
import sharp from 'sharp';
import { BadSampleError, type Preprocessing, preprocessInto, tensorLength } from '../../../lib/preprocess';
import { canDecodeFast } from '../../../lib/preprocess/png-fast';
import { decodeWithSharp } from '../../../lib/preprocess/sharp-decode';
import { readPngHeader } from '../../../lib/preprocess/sniff';
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
});
