import { BadSampleError } from './bad-sample';
import { canDecodeFast, decodePngFast } from './png-fast';
import type { DecodeLimits, Preprocessing } from './preprocessing';
import { decodeWithSharp } from './sharp-decode';
import { endsEarly, readPngHeader, sniffFormat } from './sniff';
import { type Pixels, writeTensor } from './tensor';

export { BAD_SAMPLE_REASONS, BadSampleError, type BadSampleReason } from './bad-sample';
export { type DecodeLimits, type Preprocessing, tensorLength } from './preprocessing';

async function decode(bytes: Buffer, p: Preprocessing, limits: DecodeLimits): Promise<Pixels> {
  if (bytes.length === 0) throw new BadSampleError('empty', 'zero bytes');
  const format = sniffFormat(bytes);
  if (!format) throw new BadSampleError('not-an-image', `no PNG, JPEG or WebP signature (starts with ${JSON.stringify(bytes.toString('latin1', 0, 8))})`);
  if (format === 'png') {
    const header = readPngHeader(bytes);
    if (!header) throw new BadSampleError('truncated', 'png: header missing');
    if (header.width * header.height > limits.maxPixels) {
      throw new BadSampleError('too-many-pixels', `${header.width}x${header.height} exceeds the pixel limit ${limits.maxPixels}`);
    }
    if (canDecodeFast(header, p)) return decodePngFast(bytes);
  }
  return decodeWithSharp(bytes, p, limits);
}

/** A decoder error on a file that ends before its end marker is a truncation, whatever words the decoder found for it. */
async function decodeNamingTruncation(bytes: Buffer, p: Preprocessing, limits: DecodeLimits): Promise<Pixels> {
  try {
    return await decode(bytes, p, limits);
  } catch (err) {
    const format = sniffFormat(bytes);
    if (err instanceof BadSampleError && err.reason === 'undecodable' && format && endsEarly(format, bytes)) {
      throw new BadSampleError('truncated', `${err.message} (the file ends before its end marker)`);
    }
    throw err;
  }
}

/**
 * Decodes one image and writes its normalized float32 CHW tensor into `out` at `offset`. Throws
 * BadSampleError (with a reason for the quarantine table) for anything that is not a usable image.
 */
export async function preprocessInto(bytes: Buffer, p: Preprocessing, limits: DecodeLimits, out: Float32Array, offset: number): Promise<void> {
  const pixels = await decodeNamingTruncation(bytes, p, limits);
  if (Math.min(pixels.width, pixels.height) !== p.size) {
    throw new BadSampleError('unsupported-mode', `decoded to ${pixels.width}x${pixels.height}, not a shorter side of ${p.size}`);
  }
  writeTensor(pixels, p, out, offset);
}
