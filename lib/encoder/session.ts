import { statSync } from 'node:fs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { notRegular } from '../files/regular-file';
import { cudaFacts, cudaStartFailure, cudaUnavailable, isCudaStartFailure } from '../onnx/cuda-provider';
import { tensorLength } from '../preprocess';
import { normalizeRows } from '../retrieval/normalize';
import { EncoderError } from './errors';
import type { EncoderSpec } from './spec';

/** An onnxruntime session checked against the spec: right names, accepts [n, C, crop, crop], gives [n, dims]. */
export interface EncoderSession {
  dims: number;
  /** Embeds `count` preprocessed images packed in `batch`; returns count x dims floats (L2-normalized when the spec says so). */
  run(batch: Float32Array, count: number): Promise<Float32Array>;
  /** Frees the native session; a thread must do this before it ends (onnxruntime aborts the process otherwise). */
  release(): Promise<void>;
}

export async function openEncoderSession(spec: EncoderSpec): Promise<EncoderSession> {
  const info = statSync(spec.model, { throwIfNoEntry: false });
  if (!info) throw new EncoderError('model-missing', `encoder.model: no file at ${spec.model}`);
  // onnxruntime would wait on a FIFO, or read /dev/zero, for ever.
  const refusal = notRegular(spec.model, info);
  if (refusal) throw new EncoderError('model-invalid', `encoder.model: ${refusal}`);
  const cuda = spec.device === 'cuda' ? cudaFacts() : undefined;
  const unavailable = cuda && cudaUnavailable(cuda);
  if (unavailable) throw new EncoderError('device-unavailable', unavailable);
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(spec.model, {
      executionProviders: cuda ? ['cuda', 'cpu'] : ['cpu'],
      intraOpNumThreads: spec.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    const message = (err as Error).message;
    if (cuda && isCudaStartFailure(message)) throw new EncoderError('device-unavailable', cudaStartFailure(cuda, message));
    throw new EncoderError('model-invalid', `encoder.model: ${spec.model} is not an ONNX model onnxruntime can load: ${message}`);
  }
  try {
    return await checkedSession(session, spec);
  } catch (err) {
    await session.release();
    throw err;
  }
}

async function checkedSession(session: InferenceSession, spec: EncoderSpec): Promise<EncoderSession> {
  if (!session.inputNames.includes(spec.inputName) || !session.outputNames.includes(spec.outputName)) {
    throw new EncoderError(
      'shape-mismatch',
      `encoder model ${spec.model} has inputs [${session.inputNames}] and outputs [${session.outputNames}]; the config names input '${spec.inputName}' and output '${spec.outputName}'`,
    );
  }
  const { channels, crop } = spec.preprocessing;
  const shape = (n: number) => [n, channels, crop, crop];
  const infer = async (batch: Float32Array, count: number) => {
    const input = new Tensor('float32', batch.subarray(0, count * tensorLength(spec.preprocessing)), shape(count));
    const output = (await session.run({ [spec.inputName]: input }))[spec.outputName];
    return { data: output.data as Float32Array, dims: output.dims };
  };
  // One probe image up front: a model that rejects the configured shape fails the run at once, not shard by shard.
  let probe;
  try {
    probe = await infer(new Float32Array(tensorLength(spec.preprocessing)), 1);
  } catch (err) {
    throw new EncoderError('shape-mismatch', `encoder model ${spec.model} rejects input [n, ${channels}, ${crop}, ${crop}]: ${(err as Error).message}`);
  }
  if (probe.dims.length !== 2 || probe.dims[0] !== 1) {
    throw new EncoderError('shape-mismatch', `encoder output '${spec.outputName}' has shape [${probe.dims}]; expected [n, dims]`);
  }
  const dims = Number(probe.dims[1]);
  return {
    dims,
    async run(batch, count) {
      // Copy out of onnxruntime's buffer: the result is transferred to another thread.
      const vectors = (await infer(batch, count)).data.slice();
      if (spec.l2Normalize) normalizeRows(vectors, dims);
      return vectors;
    },
    release: () => session.release(),
  };
}
