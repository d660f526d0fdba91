import sharp, { type OutputInfo } from 'sharp';
import { BadSampleError, type BadSampleReason } from './bad-sample';
import type { DecodeLimits, Preprocessing } from './preprocessing';
import type { Pixels } from './tensor';

// Parallelism comes from images in flight across embed threads; libvips threads per image would
// only oversubscribe the cores. The operation cache only holds memory for images never seen again.
sharp.concurrency(1);
sharp.cache(false);

function reasonOf(message: string): BadSampleReason {
  if (/pixel limit/i.test(message)) return 'too-many-pixels';
  if (/unsupported image format/i.test(message)) return 'not-an-image';
  if (/premature end|truncated|unexpected end|end of file|not enough data/i.test(message)) return 'truncated';
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
    const message = (err as Error).message;
    throw new BadSampleError(reasonOf(message), message);
  }
  const { data, info } = result;
  if (info.channels !== p.channels) throw new BadSampleError('unsupported-mode', `decodes to ${info.channels} channels, the encoder takes ${p.channels}`);
  return { width: info.width, height: info.height, channels: info.channels, data };
}
