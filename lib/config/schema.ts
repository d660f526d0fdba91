import { z } from 'zod';
import { sourceSpec } from './sources';

/** A Temporal duration string such as `90s`, `5m`, `24h` or `2d`. */
const duration = z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'a duration such as 90s, 5m, 24h');

const runName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, ".", "_" and "-", at most 63 characters');

const encoder = z
  .object({
    model: z
      .string()
      .min(1)
      .optional()
      .describe('ONNX image encoder; when absent, stage 0 trains one self-supervised on a random pool sample'),
    inputName: z.string().default('input'),
    outputName: z.string().default('embedding'),
    layout: z.literal('NCHW').default('NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]).default(1),
    size: z.number().int().positive().default(28).describe('resize the shorter side to this many pixels'),
    crop: z.number().int().positive().default(28).describe('then center-crop to crop x crop'),
    mean: z.array(z.number()).min(1).max(3).default([0.5]),
    std: z.array(z.number().positive()).min(1).max(3).default([0.5]),
    l2Normalize: z.boolean().default(true),
    batchSize: z.number().int().positive().default(256),
    intraOpThreads: z.number().int().nonnegative().default(0).describe('onnxruntime threads per worker; 0 = cores / concurrency'),
    maxPixels: z.number().int().positive().default(64_000_000).describe('larger images are quarantined (decompression bombs)'),
  })
  .strict()
  .refine((e) => e.crop <= e.size, { message: 'crop must not exceed size', path: ['crop'] })
  .refine((e) => e.mean.length === 1 || e.mean.length === e.channels, {
    message: 'mean needs 1 or `channels` values',
    path: ['mean'],
  })
  .refine((e) => e.std.length === 1 || e.std.length === e.channels, {
    message: 'std needs 1 or `channels` values',
    path: ['std'],
  });

const target = z
  .object({
    train: sourceSpec.prefault({ kind: 'demo', dataset: 'mnist', split: 'train' }),
    test: sourceSpec.prefault({ kind: 'demo', dataset: 'mnist', split: 'test' }),
    labelsPerClass: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('keep only the first n labeled train images of each class (a few-label task)'),
  })
  .strict();

const retrieval = z
  .object({
    policy: z.enum(['budget', 'topk-per-target']).default('budget'),
    budget: z.number().int().positive().default(8000).describe('policy budget: total images selected'),
    k: z.number().int().positive().default(50).describe('neighbours retrieved per target instance'),
    minSimilarity: z.number().min(-1).max(1).optional(),
    balanceClasses: z.boolean().default(false),
    search: z.enum(['auto', 'exact', 'ann']).default('auto'),
    leakageGuard: z
      .object({
        enabled: z.boolean().default(true),
        threshold: z.number().min(-1).max(1).default(0.98).describe('cosine at or above which a pool image duplicates a target test image'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const trainer = z
  .object({
    command: z.array(z.string().min(1)).min(1).optional().describe('trainer executable and leading args; default: the reference trainer'),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    heartbeatTimeout: duration.default('5m'),
    startToCloseTimeout: duration.default('48h'),
    maxAttempts: z.number().int().positive().default(5),
    checkpointEverySteps: z.number().int().positive().default(200),
  })
  .strict();

const pretrain = z
  .object({
    method: z.enum(['simclr', 'mae']).default('simclr'),
    steps: z.number().int().positive().default(600),
    batchSize: z.number().int().positive().default(256),
    lr: z.number().positive().default(1e-3),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();

const finetune = z
  .object({
    epochs: z.number().int().positive().default(30),
    batchSize: z.number().int().positive().default(64),
    lr: z.number().positive().default(1e-3),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();

const embed = z
  .object({
    window: z.number().int().positive().default(16).describe('embedShard activities in flight at once'),
  })
  .strict();

export const runConfigSchema = z
  .object({
    name: runName.default('demo').describe('run name: workflow ids and outputs derive from it'),
    pool: z
      .object({
        sources: z
          .array(sourceSpec)
          .min(1)
          .prefault([
            { kind: 'demo', dataset: 'fashion-mnist', split: 'all' },
            { kind: 'demo', dataset: 'mnist', split: 'train' },
          ]),
      })
      .strict()
      .prefault({}),
    target: target.prefault({ labelsPerClass: 20 }),
    encoder: encoder.prefault({}),
    store: z
      .object({ uri: z.string().min(1).default('lancedb').describe('LanceDB URI: a path (relative to SEPT_DATA_DIR) or s3://…') })
      .strict()
      .prefault({}),
    embed: embed.prefault({}),
    retrieval: retrieval.prefault({}),
    pretrain: pretrain.prefault({}),
    finetune: finetune.prefault({}),
    trainer: trainer.prefault({}),
    outputDir: z.string().min(1).default('runs').describe('run outputs go to <outputDir>/<name>; relative to SEPT_DATA_DIR'),
  })
  .strict();

/** A run's configuration as users write it (every field optional where it has a default). */
export type RunConfigInput = z.input<typeof runConfigSchema>;
/** A run's configuration after validation, with every default filled in. */
export type RunConfig = z.output<typeof runConfigSchema>;
