import type { EncoderProblem } from '../encoder/errors';
import type { BadSampleReason } from '../preprocess';

/** A batch of encoded images packed in one buffer (transferred, not copied): image i is bytes[offsets[i], offsets[i+1]). */
export interface BatchRequest {
  id: number;
  bytes: Uint8Array;
  offsets: Int32Array;
}

/** Asks a thread to free its session and end. */
export const CLOSE = 'close';

export interface BadSample {
  index: number;
  reason: BadSampleReason;
  detail: string;
}

/** Vectors of the good images, in batch order: `embedded[k]` is the batch index of vector k. */
export interface BatchResult {
  vectors: Float32Array;
  embedded: Int32Array;
  bad: BadSample[];
}

export type ThreadMessage =
  | { type: 'ready'; dims: number }
  | { type: 'result'; id: number; result: BatchResult }
  | { type: 'failed'; id?: number; error: { message: string; problem?: EncoderProblem } };

export function packBatch(id: number, images: Buffer[]): BatchRequest {
  const offsets = new Int32Array(images.length + 1);
  for (let i = 0; i < images.length; i++) offsets[i + 1] = offsets[i] + images[i].length;
  const bytes = new Uint8Array(offsets[images.length]);
  images.forEach((image, i) => bytes.set(image, offsets[i]));
  return { id, bytes, offsets };
}
