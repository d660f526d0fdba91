import type { RunConfigInput } from '../lib/config/schema';
import type { ExportedEncoder } from '../lib/encoder/exported';
import { ENCODER_VARIANT } from '../lib/pipeline/trainer-jobs';
import { cpuWork, trainer } from './activity-options';
import { randomPoolSample } from './pool-sample';
import { resolvedRunConfig } from './run-config';
import { artifactPath } from './trainer-artifacts';

export interface TrainEncoderResult {
  /** The exported model and its preprocessing: what the embedding stage uses. */
  encoder: ExportedEncoder;
  sampleSize: number;
  pretrainedCheckpoint: string;
}

/**
 * Stage 0 of SEPT, when the configuration names no encoder: the retrieval encoder is trained the way
 * the paper does, self-supervised on a random pool sample, then exported to ONNX with its
 * preprocessing spec. `encoderTraining` sets the sample and the compute; the architecture and the
 * image size are the run's.
 */
export async function trainEncoder(configInput?: RunConfigInput): Promise<TrainEncoderResult> {
  const config = await resolvedRunConfig(configInput);
  const t = config.encoderTraining;
  const cpu = cpuWork();
  const gpu = trainer(config);

  const sample = await randomPoolSample(config, 'encoder', t.sampleSize, t.seed);
  const stage0 = { ...config, pretrain: { method: t.method, steps: t.steps, batchSize: t.batchSize, lr: t.lr, seed: t.seed } };
  // The trainer needs a class count only for labeled stages; the encoder never sees a label.
  const job = { config: stage0, variant: ENCODER_VARIANT, numClasses: 2 };
  const pretrained = await gpu.runTrainer({ ...job, stage: 'pretrain', job: 'pretrain', train: [sample.source] });
  const checkpoint = artifactPath(pretrained, 'pretrained_checkpoint');
  const exported = await gpu.runTrainer({ ...job, stage: 'export', job: 'export', train: [], initCheckpoint: checkpoint });
  const onnx = exported.artifacts.find((a) => a.kind === 'onnx_encoder')?.path;
  if (!onnx) throw new Error('stage 0: the trainer exported no onnx_encoder artifact');
  const encoder = await cpu.readExportedEncoder(onnx);
  return { encoder, sampleSize: sample.samples, pretrainedCheckpoint: checkpoint };
}
