// A PNG's image data is one zlib stream whose inflated size its header fixes: scanlines of a known
// width, a filter byte each, in one pass or Adam7's seven. A stream that inflates further is a
// decompression bomb (a 28x28 image can hide hundreds of MiB, and libspng inflates all of it, if
// never more than a window at a time), so it is inflated here never past the declared size.
import { inflateSync } from 'node:zlib';
import { BadSampleError } from './bad-sample';
import type { PngHeader } from './sniff';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7's passes: column start and step, row start and step. */
const ADAM7 = [
  [0, 8, 0, 8],
  [4, 8, 0, 8],
  [0, 4, 4, 8],
  [2, 4, 0, 4],
  [0, 2, 2, 4],
  [1, 2, 0, 2],
  [0, 1, 1, 2],
];

export const pngChannels = (header: PngHeader) => CHANNELS[header.colorType] ?? 1;

/** Bytes of the inflated image data: every scanline of every pass, with its filter byte. */
export function declaredBytes(header: PngHeader): number {
  const bits = pngChannels(header) * header.bitDepth;
  const pass = (width: number, height: number) => (width > 0 && height > 0 ? height * (Math.ceil((width * bits) / 8) + 1) : 0);
  if (!header.interlaced) return pass(header.width, header.height);
  return ADAM7.reduce((sum, [x0, dx, y0, dy]) => sum + pass(Math.ceil((header.width - x0) / dx), Math.ceil((header.height - y0) / dy)), 0);
}

/** The zlib stream of the image: every IDAT chunk's data, in order, up to the IEND chunk that a whole file ends with. */
function imageData(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let pos = 8; pos + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(pos);
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + length > bytes.length) break;
    if (type === 'IEND') return parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (type === 'IDAT') parts.push(bytes.subarray(pos + 8, pos + 8 + length));
    pos += 12 + length;
  }
  throw new BadSampleError('truncated', 'png: the file ends before its IEND chunk');
}

/**
 * The inflated image data, after at most its declared size of work: more is refused as
 * 'too-many-pixels' (a bomb), a stream that does not inflate as 'undecodable', less as 'truncated'.
 */
export function inflateImageData(bytes: Buffer, header: PngHeader): Buffer {
  const declared = declaredBytes(header);
  const stream = imageData(bytes);
  let raw: Buffer;
  try {
    raw = inflateSync(stream, { maxOutputLength: declared });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BadSampleError('too-many-pixels', `png: image data inflates past the ${declared} bytes its ${header.width}x${header.height} header declares (a decompression bomb)`);
    }
    throw new BadSampleError('undecodable', `png: ${(err as Error).message}`);
  }
  if (raw.length < declared) throw new BadSampleError('truncated', 'png: image data ends early');
  return raw;
}
