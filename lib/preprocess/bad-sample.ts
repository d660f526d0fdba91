/** Why a sample was quarantined instead of embedded. */
export const BAD_SAMPLE_REASONS = [
  'empty', // zero bytes
  'not-an-image', // bytes of no known image format (a text file named .png)
  'truncated', // the image data ends early
  'too-many-pixels', // over the pixel limit: a decompression bomb or an absurd size
  'unsupported-mode', // decodes, but to channels the encoder cannot take
  'undecodable', // any other decoder error
  'missing-image', // no image member in the sample, or its file is gone
  'duplicate-id', // a second sample with an id already seen in the shard; the first is kept
  'malformed-json', // a json member that is not a JSON object (torn, not JSON, an array)
  'too-large', // a member, file or header over the worker's size caps (lib/input-limits.ts), left unread
  'not-a-regular-file', // a link, device or FIFO where an image file is expected (tar links are never followed)
  'unsafe-name', // a member name with a `..` segment or a leading `/`, which would leave a folder when extracted
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
