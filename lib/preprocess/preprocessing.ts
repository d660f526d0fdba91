/** How an image becomes an encoder input: everything that changes the vectors is here (and in the encoder id). */
export interface Preprocessing {
  channels: 1 | 3;
  /** The shorter side is resized to this many pixels... */
  size: number;
  /** ...then the center crop x crop is taken. */
  crop: number;
  /** Per channel (or one value for all). */
  mean: number[];
  std: number[];
}

/** Decoding guards: they decide which images are quarantined, not what vectors look like. */
export interface DecodeLimits {
  maxPixels: number;
}

export const tensorLength = (p: Preprocessing) => p.channels * p.crop * p.crop;
