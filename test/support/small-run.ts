import type { RunConfigInput } from '../../lib/config/schema';
import { demoShards } from '../../lib/demo/materialize';
import { writeThumbnailEncoder } from '../../lib/encoder/thumbnail';
import { tempDir } from './tmp';

/**
 * A small but complete SEPT run: a pool of 2 MNIST and 3 Fashion-MNIST shards, an MNIST target with
 * 5 labels per class, stage 0 trained for a few steps, real retrieval, pre-training and fine-tuning.
 */
export async function smallPipelineConfig(name: string, overrides: Partial<RunConfigInput> = {}): Promise<RunConfigInput> {
  const mnist = (await demoShards('mnist', 'train')).slice(0, 2);
  const fashion = (await demoShards('fashion-mnist', 'all')).slice(0, 3);
  return {
    name,
    outputDir: tempDir(),
    store: { uri: `${tempDir()}/lancedb` },
    pool: {
      sources: [
        { kind: 'webdataset', name: 'mnist', shards: mnist },
        { kind: 'webdataset', name: 'fashion', shards: fashion },
      ],
    },
    target: { labelsPerClass: 5 },
    encoderTraining: { sampleSize: 1000, steps: 60, batchSize: 64 },
    encoder: { threads: 1 },
    retrieval: { budget: 300, k: 40 },
    pretrain: { steps: 16, batchSize: 32 },
    finetune: { epochs: 4, batchSize: 25 },
    ...overrides,
    trainer: { checkpointEverySteps: 4, heartbeatTimeout: '30s', maxAttempts: 3, threads: 1, ...overrides.trainer },
  };
}

/**
 * A retrieval encoder given to the run, so that it trains no stage 0 (about 35 s of trainer time
 * on a quiet 2-core machine): the thumbnail encoder (lib/encoder/thumbnail.ts) for the demo's 28 x
 * 28 grayscale images. For tests of what runs around the stages (the client API, durability), not
 * of stage 0 or of what retrieval finds. `dir` must outlive the runs: a tempDir() made in a hook
 * is removed when the hook ends.
 */
export async function givenEncoder(dir = tempDir('encoder-')): Promise<NonNullable<RunConfigInput['encoder']>> {
  return { model: await writeThumbnailEncoder(dir, { channels: 1, size: 28, cells: 14 }), threads: 1 };
}
