/** Why a sample was quarantined instead of embedded. */
export const BAD_SAMPLE_REASONS = [
  'empty', // zero bytes
  'not-an-image', // bytes of no known image format (a text file named .png)
  'truncated', // the image data ends early
  'too-many-pixels', // over the pixel limit: a decompression bomb or an absurd size
  'unsupported-mode', // decodes, but to channels the encoder cannot take
  'undecodable', // any other decoder error
  'missing-image', // no image member in the sample, or its file is gone
  'duplicate-id', // a second sample with an id already seen in the shard
] as const;
export type BadSampleReason = (typeof BAD_SAMPLE_REASONS)[number];

/** A sample that cannot be embedded; it goes to the quarantine table and never fails its shard. */
export class BadSampleError extends Error {
  constructor(
    readonly reason: BadSampleReason,
    detail: string,
  ) {
    super(detail);
    this.name = 'BadSampleError';
  }
}
