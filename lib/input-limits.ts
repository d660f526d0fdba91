// What one input may cost a worker, whoever wrote it. Each cap sits far above what a real pool
// needs and far below what takes a worker down. The worker decides them (its environment, read
// once per process); nothing in a run raises them (`encoder.maxPixels` may only lower the pixel
// cap). An input over a cap is quarantined with its reason when it is one sample's, and refused,
// naming the setting, when it is a shard's or the configuration's.
import { z } from 'zod';
import { byteSize } from './config/worker-settings';
import { describeIssues } from './config/validate';

const count = z.coerce.number().int().positive();

const inputLimitsSchema = z.object({
  // A PAX header carries a path and a few attributes, a few KiB: a megabyte holds any real one.
  SEPT_MAX_PAX_HEADER_BYTES: byteSize.default(2 ** 20),
  // Far above any encoded image under the pixel cap (a 64-megapixel JPEG is about 30 MB).
  SEPT_MAX_MEMBER_BYTES: byteSize.default(256 * 2 ** 20),
  // Tars of images or metadata compress a few times at most; deflate's own limit is 1032:1.
  SEPT_MAX_GZIP_RATIO: count.default(100),
  // Shards one pattern may name: ten times a pool of ten billion images in shards of 10,000.
  SEPT_MAX_SHARD_NAMES: count.default(10_000_000),
  // Pixels one image may decode to, before and after resizing: an 8000x8000 photo fits.
  SEPT_MAX_PIXELS: count.default(64_000_000),
  // Encoded images and float tensors one embed batch holds; typed-array offsets are 32-bit.
  SEPT_MAX_BATCH_BYTES: byteSize.pipe(z.number().max(2 ** 31 - 1, 'at most 2GiB - 1: batch offsets are 32-bit')).default(512 * 2 ** 20),
});

/** The caps on input work of this worker process (environment names in the comments). */
export interface InputLimits {
  /** SEPT_MAX_PAX_HEADER_BYTES: a larger PAX or GNU long-name header quarantines the member it describes. */
  paxHeaderBytes: number;
  /** SEPT_MAX_MEMBER_BYTES: a larger tar member or image file quarantines its sample, unread. */
  memberBytes: number;
  /** SEPT_MAX_GZIP_RATIO: a `.tar.gz` shard that inflates to more than this times the bytes read fails. */
  gzipRatio: number;
  /** SEPT_MAX_SHARD_NAMES: a shard pattern whose brace ranges name more fails listing, unexpanded. */
  shardPatternNames: number;
  /** SEPT_MAX_PIXELS: an image larger than this, as stored or as resized, is quarantined undecoded. */
  pixels: number;
  /** SEPT_MAX_BATCH_BYTES: embed batches are cut to fit; an image alone larger is quarantined. */
  batchBytes: number;
}

export function inputLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): InputLimits {
  const picked = Object.fromEntries(Object.keys(inputLimitsSchema.shape).filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  const result = inputLimitsSchema.safeParse(picked);
  if (!result.success) throw new Error(`invalid worker settings: ${describeIssues(result.error.issues).join('; ')}`);
  const s = result.data;
  return {
    paxHeaderBytes: s.SEPT_MAX_PAX_HEADER_BYTES,
    memberBytes: s.SEPT_MAX_MEMBER_BYTES,
    gzipRatio: s.SEPT_MAX_GZIP_RATIO,
    shardPatternNames: s.SEPT_MAX_SHARD_NAMES,
    pixels: s.SEPT_MAX_PIXELS,
    batchBytes: s.SEPT_MAX_BATCH_BYTES,
  };
}

let processLimits: InputLimits | undefined;

/** This process's caps, read from its environment on first use. */
export function inputLimits(): InputLimits {
  return (processLimits ??= inputLimitsFromEnv());
}

