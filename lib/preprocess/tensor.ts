import { type Preprocessing, tensorLength } from './preprocessing';

/** Decoded 8-bit pixels, interleaved (HWC); 1 or 2 channels are gray (+alpha), 3 or 4 RGB (+alpha). */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/**
 * Writes the center crop of `pixels` as normalized float32 CHW into `out` at `offset`. Alpha is
 * dropped; gray is replicated when the encoder takes RGB. The pixels' shorter side must already
 * equal `p.size`.
 */
export function writeTensor(pixels: Pixels, p: Preprocessing, out: Float32Array, offset: number): void {
  const { width, height, channels: stride, data } = pixels;
  const colorChannels = stride >= 3 ? 3 : 1;
  if (colorChannels === 3 && p.channels === 1) throw new Error('RGB pixels for a grayscale encoder must be converted by the decoder');
  const left = Math.floor((width - p.crop) / 2);
  const top = Math.floor((height - p.crop) / 2);
  const plane = p.crop * p.crop;
  if (offset + tensorLength(p) > out.length) throw new RangeError('tensor does not fit the batch buffer');
  for (let c = 0; c < p.channels; c++) {
    const source = colorChannels === 1 ? 0 : c;
    const scale = 1 / (255 * p.std[p.std.length === 1 ? 0 : c]);
    const shift = p.mean[p.mean.length === 1 ? 0 : c] / p.std[p.std.length === 1 ? 0 : c];
    const base = offset + c * plane;
    for (let y = 0; y < p.crop; y++) {
      const row = ((top + y) * width + left) * stride + source;
      const outRow = base + y * p.crop;
      for (let x = 0; x < p.crop; x++) out[outRow + x] = data[row + x * stride] * scale - shift;
    }
  }
}
