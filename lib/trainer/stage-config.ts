import { FINETUNE_BATCH_SIZE, type RunConfig } from '../config/schema';
import type { TrainerJobFiles } from '../run-layout';
import type { TrainerStage } from './protocol';

/** Checkpoints a trainer keeps (the protocol's default, written out so the checkpoint mirror prunes alike). */
export const KEEP_CHECKPOINTS = 3;

export interface StageData {
  trainShards: string[];
  /** What each train shard holds, parallel to `trainShards`: a resume compares these, not paths. */
  trainShardIds?: string[];
  testShards?: string[];
  testShardIds?: string[];
  numClasses: number;
  /** Images of the labeled train set: fine-tuning's default batch never exceeds it. */
  trainSamples?: number;
  initCheckpoint?: string;
  /** For evaluate: skip the frozen-encoder probes (kNN, linear) and report top-1 only. */
  probes?: boolean;
}

/** The reference trainer's JSON configuration (trainer/PROTOCOL.md) for one stage of a run. */
export function trainerStageConfig(config: RunConfig, stage: TrainerStage, job: TrainerJobFiles, data: StageData): Record<string, unknown> {
  const { encoder, pretrain, finetune, trainer } = config;
  const perChannel = (values: number[]) => (values.length === encoder.channels ? values : Array(encoder.channels).fill(values[0]));
  const common = {
    device: trainer.device,
    ...(trainer.threads ? { threads: trainer.threads } : {}),
    output_dir: job.dir,
    checkpoint_dir: job.checkpoints,
    checkpoint_every_steps: trainer.checkpointEverySteps,
    keep_checkpoints: KEEP_CHECKPOINTS,
    method: pretrain.method,
    model: pretrain.backbone ?? (pretrain.method === 'mae' ? 'vit_tiny' : 'cnn_small'),
    image_size: encoder.crop,
    channels: encoder.channels,
    mean: perChannel(encoder.mean),
    std: perChannel(encoder.std),
    num_classes: data.numClasses,
    train_shards: data.trainShards,
    ...(data.trainShardIds ? { train_shard_ids: data.trainShardIds } : {}),
    ...(data.testShards ? { test_shards: data.testShards } : {}),
    ...(data.testShardIds ? { test_shard_ids: data.testShardIds } : {}),
    ...(data.initCheckpoint ? { init_checkpoint: data.initCheckpoint } : {}),
  };
  switch (stage) {
    case 'pretrain':
      // Exactly `steps` steps whatever the data size (the same compute for every subset): as many
      // epochs as steps never stops first, since an epoch has at least one step.
      return { ...common, seed: pretrain.seed, epochs: pretrain.steps, max_steps: pretrain.steps, batch_size: pretrain.batchSize, lr: pretrain.lr };
    case 'finetune':
      return { ...common, seed: finetune.seed, epochs: finetune.epochs, batch_size: finetune.batchSize ?? Math.min(FINETUNE_BATCH_SIZE, data.trainSamples ?? FINETUNE_BATCH_SIZE), lr: finetune.lr };
    case 'evaluate':
      return { ...common, seed: finetune.seed, ...(data.probes === false ? { evaluate: { knn_k: 0, linear_probe_steps: 0 } } : {}) };
    case 'export':
      return { ...common, seed: pretrain.seed };
  }
}
