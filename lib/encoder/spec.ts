import { availableParallelism } from 'node:os';
import type { RunConfig } from '../config/schema';
import { resolveDataPath } from '../paths';
import type { DecodeLimits, Preprocessing } from '../preprocess';
import { EncoderError } from './errors';

export type EncoderConfig = RunConfig['encoder'];

/** Everything a process needs to embed with one encoder; small and serializable (it crosses into worker threads). */
export interface EncoderSpec {
  /** Absolute path of the ONNX file. */
  model: string;
  inputName: string;
  outputName: string;
  l2Normalize: boolean;
  preprocessing: Preprocessing;
  limits: DecodeLimits;
  batchSize: number;
  device: 'cpu' | 'cuda';
  /** Embed threads per worker process; each decodes and infers whole batches. */
  threads: number;
  /** onnxruntime intra-op threads per embed thread; threads x intraOpThreads stays within the cores. */
  intraOpThreads: number;
}

export function encoderSpecOf(config: EncoderConfig): EncoderSpec {
  if (!config.model) throw new EncoderError('model-missing', 'encoder.model is not set: name an ONNX image encoder to embed the pool');
  const cores = availableParallelism();
  const threads = config.threads || cores;
  return {
    model: resolveDataPath(config.model),
    inputName: config.inputName,
    outputName: config.outputName,
    l2Normalize: config.l2Normalize,
    preprocessing: { channels: config.channels, size: config.size, crop: config.crop, mean: config.mean, std: config.std },
    limits: { maxPixels: config.maxPixels },
    batchSize: config.batchSize,
    device: config.device,
    threads,
    intraOpThreads: config.intraOpThreads || Math.max(1, Math.floor(cores / threads)),
  };
}
