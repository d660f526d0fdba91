import sharp, { type OutputInfo } from 'sharp';
import { BadSampleError, type BadSampleReason } from './bad-sample';
import type { DecodeLimits, Preprocessing } from './preprocessing';
import { sniffFormat } from './sniff';
import type { Pixels } from './tensor';

// Parallelism comes from images in flight across embed threads; libvips threads per image would
// only oversubscribe the cores. The operation cache only holds memory for images never seen again.
sharp.concurrency(1);
sharp.cache(false);

// libvips keeps one error buffer for the whole process: while several images decode at once (a
// batch, the other embed threads), a failure's message carries other images' errors as well, or
// loses its own. Only sharp's own sentences ("Input buffer has corrupt header", "Input image exceeds
// pixel limit", …) are surely this image's, so the reason and the detail come from them and from
// the bytes alone; a truncation is told by the missing end marker (lib/preprocess/index.ts).
const ownWords = (message: string) => /^Input [^:\n]*/m.exec(message)?.[0];

function reasonOf(words: string): BadSampleReason {
  if (/pixel limit/i.test(words)) return 'too-many-pixels';
  if (/unsupported image format/i.test(words)) return 'not-an-image';
  return 'undecodable';
}

/** Decodes any image sharp reads: EXIF orientation applied, shorter side resized to `size`, converted to the encoder's channels. */
export async function decodeWithSharp(bytes: Buffer, p: Preprocessing, limits: DecodeLimits): Promise<Pixels> {
  let result: { data: Buffer; info: OutputInfo };
  try {
    result = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', autoOrient: true })
      .resize(p.size, p.size, { fit: 'outside' })
      .toColourspace(p.channels === 1 ? 'b-w' : 'srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    const words = ownWords((err as Error).message) ?? 'the decoder failed';
    throw new BadSampleError(reasonOf(words), `${sniffFormat(bytes) ?? 'image'} of ${bytes.length} bytes: ${words}`);
  }
  const { data, info } = result;
  if (info.channels !== p.channels) throw new BadSampleError('unsupported-mode', `decodes to ${info.channels} channels, the encoder takes ${p.channels}`);
  return { width: info.width, height: info.height, channels: info.channels, data };
}
