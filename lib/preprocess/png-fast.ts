import { decode } from 'fast-png';
import { BadSampleError } from './bad-sample';
import type { Preprocessing } from './preprocessing';
import type { PngHeader } from './sniff';
import type { Pixels } from './tensor';

/**
 * Whether a PNG can skip sharp: 8-bit gray or RGB (alpha allowed), already at the target size (no
 * resampling), nothing that sharp would transform (ICC, EXIF orientation, transparency key), and
 * no RGB-to-gray conversion. Such images give sharp's exact pixels, so vectors never depend on
 * which path decoded them; for 28x28 images this path is several times faster than one native call.
 */
export function canDecodeFast(header: PngHeader, p: Preprocessing): boolean {
  const gray = header.colorType === 0 || header.colorType === 4;
  const rgb = header.colorType === 2 || header.colorType === 6;
  return header.bitDepth === 8 && !header.transforming && (gray || (rgb && p.channels === 3)) && Math.min(header.width, header.height) === p.size;
}

export function decodePngFast(bytes: Buffer): Pixels {
  let png;
  try {
    png = decode(bytes);
  } catch (err) {
    throw new BadSampleError('undecodable', `png: ${(err as Error).message}`);
  }
  const expected = png.width * png.height * png.channels;
  if (!(png.data instanceof Uint8Array) || png.data.length < expected) throw new BadSampleError('truncated', 'png: image data ends early');
  return { width: png.width, height: png.height, channels: png.channels, data: png.data };
}
