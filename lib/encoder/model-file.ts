import type { PinnedFile } from '../cache/object-cache';
import { isObjectUri, ObjectStore } from '../object-store';
import { pinLocalCopy } from '../storage/location';
import { EncoderError } from './errors';
import { type EncoderConfig, type EncoderSpec, encoderSpecOf } from './spec';

/** Models staged from a bucket by this process, by URI: the version staged and its pinned file. */
const staged = new Map<string, { version: string; file: Promise<PinnedFile> }>();

async function stagedModel(uri: string): Promise<string> {
  const { store, key } = ObjectStore.at(uri);
  const head = await store.head(key);
  if (!head) throw new EncoderError('model-missing', `encoder.model: no object at ${uri}`);
  let entry = staged.get(uri);
  if (entry?.version !== head.etag) {
    const replaced = entry;
    entry = { version: head.etag, file: pinLocalCopy(uri, { version: head.etag, size: head.size }) };
    staged.set(uri, entry);
    // A model replaced in the bucket: its old version is an ordinary cache entry again.
    void replaced?.file.then((f) => f.release(), () => undefined);
  }
  try {
    return (await entry.file).path;
  } catch (err) {
    if (staged.get(uri) === entry) staged.delete(uri);
    throw err;
  }
}

/**
 * The encoder spec with its model as a local file. A model in a bucket (`encoder.model: s3://…`,
 * such as the encoder a bucket run's stage 0 exported) is fetched into the worker's cache once per
 * version and pinned while the process lives: onnxruntime loads a model by path, in every embed
 * thread, whenever a pool of them starts. A local model is used where it is.
 */
export async function localEncoderSpec(config: EncoderConfig, field = 'encoder'): Promise<EncoderSpec> {
  const spec = encoderSpecOf(config, field);
  return isObjectUri(spec.model) ? { ...spec, model: await stagedModel(spec.model) } : spec;
}
