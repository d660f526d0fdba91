import { availableParallelism } from 'node:os';
import type { RunConfig } from '../config/schema';
import { ConfigError } from '../config/validate';
import { inputLimits } from '../input-limits';
import { type DecodeLimits, type Preprocessing, tensorLength } from '../preprocess';
import { allowedLocation } from '../storage/access';
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

/**
 * The decode limits and batch size this worker grants an encoder configuration: the run's
 * `encoder.maxPixels` may lower the worker's pixel cap, never raise it, and a batch holds no more
 * float tensors than SEPT_MAX_BATCH_BYTES (lib/input-limits.ts), however large a batch the run asks
 * for. A configuration that no image could meet fails naming its field.
 */
function workerBounds(config: EncoderConfig, preprocessing: Preprocessing): { limits: DecodeLimits; batchSize: number } {
  const caps = inputLimits();
  const maxPixels = Math.min(config.maxPixels, caps.pixels);
  if (config.size * config.size > maxPixels) {
    throw new ConfigError([`encoder.size: every image decodes to at least ${config.size} x ${config.size} pixels, over the pixel limit ${maxPixels} (encoder.maxPixels, at most SEPT_MAX_PIXELS)`]);
  }
  const tensorBytes = 4 * tensorLength(preprocessing);
  if (tensorBytes > caps.batchBytes) {
    throw new ConfigError([`encoder.crop: one image's input tensor is ${tensorBytes} bytes, more than an embed batch may hold on this worker (SEPT_MAX_BATCH_BYTES = ${caps.batchBytes})`]);
  }
  return { limits: { maxPixels }, batchSize: Math.min(config.batchSize, Math.floor(caps.batchBytes / tensorBytes)) };
}

/** `field`: where the run configuration gives this encoder (`encoder`, or `dedup.encoder`), for its messages. */
export function encoderSpecOf(config: EncoderConfig, field = 'encoder'): EncoderSpec {
  if (!config.model) throw new EncoderError('model-missing', `${field}.model is not set: name an ONNX image encoder to embed the pool`);
  const cores = availableParallelism();
  const threads = config.threads || cores;
  const preprocessing: Preprocessing = { channels: config.channels, size: config.size, crop: config.crop, mean: config.mean, std: config.std };
  return {
    model: allowedLocation(`${field}.model`, config.model, 'read'),
    inputName: config.inputName,
    outputName: config.outputName,
    l2Normalize: config.l2Normalize,
    preprocessing,
    ...workerBounds(config, preprocessing),
    device: config.device,
    threads,
    intraOpThreads: config.intraOpThreads || Math.max(1, Math.floor(cores / threads)),
  };
}
