import { BadSampleError } from './bad-sample';
import { inflateImageData } from './png-data';
import { canDecodeFast, decodePngFast } from './png-fast';
import type { DecodeLimits, Preprocessing } from './preprocessing';
import { decodeWithSharp } from './sharp-decode';
import { endsEarly, type ImageSize, type PngHeader, readImageSize, readPngHeader, sniffFormat } from './sniff';
import { type Pixels, writeTensor } from './tensor';

export { BAD_SAMPLE_REASONS, BadSampleError, type BadSampleReason } from './bad-sample';
export { type DecodeLimits, type Preprocessing, tensorLength } from './preprocessing';

/**
 * Refuses an image whose header states more pixels than the limit, as stored or once its shorter
 * side is resized to `p.size` (a 1 x 64,000,000 strip passes the first and not the second):
 * nothing is decoded or allocated for it.
 */
function checkPixels({ width, height }: ImageSize, p: Preprocessing, limits: DecodeLimits): void {
  if (width * height > limits.maxPixels) throw new BadSampleError('too-many-pixels', `${width}x${height} exceeds the pixel limit ${limits.maxPixels}`);
  const shorter = Math.min(width, height);
  const resized = shorter > 0 ? p.size * Math.round((Math.max(width, height) * p.size) / shorter) : 0;
  if (resized > limits.maxPixels) {
    throw new BadSampleError('too-many-pixels', `${width}x${height} resized to a shorter side of ${p.size} is ${resized} pixels, over the pixel limit ${limits.maxPixels}`);
  }
}

/**
 * Refuses a PNG whose image data inflates past its header before sharp sees it: libspng would
 * inflate all of it (a thousand times its compressed size) to decode a few pixels. Any other fault
 * is left for sharp to name.
 */
function checkImageData(bytes: Buffer, header: PngHeader): void {
  try {
    inflateImageData(bytes, header);
  } catch (err) {
    if (err instanceof BadSampleError && err.reason === 'too-many-pixels') throw err;
  }
}

async function decode(bytes: Buffer, p: Preprocessing, limits: DecodeLimits): Promise<Pixels> {
  if (bytes.length === 0) throw new BadSampleError('empty', 'zero bytes');
  const format = sniffFormat(bytes);
  if (!format) throw new BadSampleError('not-an-image', `no PNG, JPEG or WebP signature (starts with ${JSON.stringify(bytes.toString('latin1', 0, 8))})`);
  if (format === 'png') {
    const header = readPngHeader(bytes);
    if (!header) throw new BadSampleError('truncated', 'png: header missing');
    checkPixels(header, p, limits);
    if (canDecodeFast(header, p)) return decodePngFast(bytes, header);
    checkImageData(bytes, header);
  } else {
    const size = readImageSize(format, bytes);
    if (size) checkPixels(size, p, limits);
  }
  // sharp checks the stored size again (limitInputPixels), for a header this module could not read.
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
