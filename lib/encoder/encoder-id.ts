import { createHash } from 'node:crypto';
import { FileRefusedError, openRegularFile } from '../files/regular-file';
import { EncoderError } from './errors';
import type { EncoderSpec } from './spec';

const digests = new Map<string, { key: string; digest: string }>();

/** SHA-256 of the model file, cached per process while its size and mtime stay the same. A FIFO or device is no model: it would never end. */
export async function modelDigest(path: string): Promise<string> {
  let opened;
  try {
    opened = await openRegularFile(path);
  } catch (err) {
    if (err instanceof FileRefusedError) throw new EncoderError('model-invalid', `encoder.model: ${err.message}`);
    throw new EncoderError('model-missing', `encoder model not found: ${path}`);
  }
  const { file, info } = opened;
  const key = `${info.size}:${info.mtimeMs}`;
  const cached = digests.get(path);
  if (cached?.key === key) {
    await file.close();
    return cached.digest;
  }
  const hash = createHash('sha256');
  for await (const chunk of file.createReadStream()) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  digests.set(path, { key, digest });
  return digest;
}

/**
 * `<model hash>-<preprocessing hash>`: what every vector row carries, so vectors of two encoders
 * (or of one model fed differently) never mix. Batch size, threads and device change no vector
 * and are left out; so is the file's path, so a copied model keeps its id.
 */
export async function encoderIdOf(spec: EncoderSpec): Promise<string> {
  const { inputName, outputName, l2Normalize, preprocessing } = spec;
  const recipe = JSON.stringify({ layout: 'NCHW', inputName, outputName, l2Normalize, preprocessing });
  return `${(await modelDigest(spec.model)).slice(0, 16)}-${createHash('sha256').update(recipe).digest('hex').slice(0, 8)}`;
}
