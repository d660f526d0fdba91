import { z } from 'zod';
import { DEMO_DATASETS, sourceSpec } from './sources';

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
    batchSize: z.number().int().positive().default(256).describe('images per inference call'),
    device: z.enum(['cpu', 'cuda']).default('cpu').describe('cuda: onnxruntime CUDA execution provider where its binaries are installed, CPU otherwise'),
    threads: z.number().int().nonnegative().default(0).describe('embed threads per worker process (each decodes and infers whole batches); 0 = one per core'),
    intraOpThreads: z.number().int().nonnegative().default(0).describe('onnxruntime threads per embed thread; 0 = cores / threads, so the cores are never oversubscribed'),
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

/** `preset: <demo dataset>` fills in train and test with that dataset's demo splits. */
function targetPreset(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || !('preset' in raw)) return raw;
  const { preset } = raw as { preset: unknown };
  if (!(DEMO_DATASETS as readonly unknown[]).includes(preset)) return raw;
  return { train: { kind: 'demo', dataset: preset, split: 'train' }, test: { kind: 'demo', dataset: preset, split: 'test' }, ...raw };
}

const target = z.preprocess(
  targetPreset,
  z
    .object({
      preset: z.enum(DEMO_DATASETS).optional().describe('a demo target task: train and test default to that dataset\'s demo splits'),
      train: sourceSpec.prefault({ kind: 'demo', dataset: 'mnist', split: 'train' }),
      test: sourceSpec.prefault({ kind: 'demo', dataset: 'mnist', split: 'test' }),
      labelsPerClass: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('keep only the first n labeled train images of each class (a few-label task)'),
    })
    .strict(),
);

const ann = z
  .object({
    index: z.enum(['ivf-flat', 'ivf-pq', 'hnsw-sq']).default('ivf-flat').describe('LanceDB vector index of the ann path (ivf-flat: 10x faster to build than ivf-pq here; ivf-pq: compressed, for pools beyond memory)'),
    numPartitions: z.number().int().positive().optional().describe('IVF partitions (HNSW: sub-indexes); default sqrt(pool size)'),
    numSubVectors: z.number().int().positive().optional().describe('IVF-PQ sub-vectors; default dimension / 8'),
    nprobes: z.number().int().positive().optional().describe('partitions probed per query; default max(20, partitions / 16)'),
    refineFactor: z.number().int().positive().optional().describe('re-rank refineFactor x k candidates exactly; default 10 for IVF-PQ'),
    ef: z.number().int().positive().optional().describe('HNSW search width; default 150'),
  })
  .strict();

const retrieval = z
  .object({
    policy: z.enum(['budget', 'topk-per-target']).default('budget'),
    budget: z.number().int().positive().default(8000).describe('policy budget: total images selected'),
    k: z.number().int().positive().default(200).describe('neighbours retrieved per target instance; the budget policy needs budget / targets distinct images per target, and neighbour lists overlap'),
    minSimilarity: z.number().min(-1).max(1).optional(),
    balanceClasses: z.boolean().default(false),
    search: z.enum(['auto', 'exact', 'ann']).default('auto').describe('auto: the path of lower estimated cost'),
    ann: ann.prefault({}),
    targetChunk: z.number().int().positive().default(16_384).describe('targets per search activity; each scans its pool partition once'),
    partitionRows: z.number().int().positive().default(2_000_000).describe('pool rows per partition: partitions are searched in parallel, like shards'),
    blockRows: z.number().int().positive().default(32_768).describe('pool vectors per matrix product of the exact path'),
    window: z.number().int().positive().default(2).describe('search activities in flight at once'),
    subsetShardSize: z.number().int().positive().default(1000).describe('samples per subset WebDataset shard'),
    contactSheet: z
      .object({
        targets: z.number().int().nonnegative().default(8).describe('target images shown (0: no contact sheet)'),
        neighbours: z.number().int().positive().default(8).describe('retrieved neighbours beside each'),
      })
      .strict()
      .prefault({}),
    leakageGuard: z
      .object({
        enabled: z.boolean().default(true),
        threshold: z.number().min(-1).max(1).default(0.98).describe('cosine at or above which a pool image is a duplicate candidate of a target test image'),
        pixelCorrelation: z
          .number()
          .min(-1)
          .max(1)
          .nullable()
          .default(0.99)
          .describe('candidates are excluded only when their 32x32 grayscale pixels correlate at least this much (a copy, not a look-alike); null: exclude every candidate'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const trainer = z
  .object({
    command: z.array(z.string().min(1)).min(1).optional().describe('trainer executable and leading args; default: the reference trainer'),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    threads: z.number().int().positive().optional().describe("trainer CPU threads; default: torch's (all cores)"),
    heartbeatTimeout: duration.default('5m'),
    startToCloseTimeout: duration.default('48h'),
    maxAttempts: z.number().int().positive().default(5),
    checkpointEverySteps: z.number().int().positive().default(200),
    checkpointUri: z
      .string()
      .regex(/^s3:\/\/[^/\s]+(\/\S*)?$/i, 'an s3://bucket/prefix URI')
      .optional()
      .describe('s3://bucket/prefix: every GPU worker mirrors trainer checkpoints and final artifacts there, so any worker resumes another\'s work; endpoint and credentials from the AWS_* variables'),
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

const encoderTraining = z
  .object({
    sampleSize: z.number().int().positive().default(10_000).describe('random pool images that stage 0 trains the retrieval encoder on'),
    method: z.enum(['simclr', 'mae']).default('simclr'),
    steps: z.number().int().positive().default(200),
    batchSize: z.number().int().positive().default(256),
    lr: z.number().positive().default(1e-3),
    seed: z.number().int().nonnegative().default(0).describe('seeds the random pool sample and the training'),
  })
  .strict()
  .describe('stage 0, when encoder.model is absent: the retrieval encoder is trained self-supervised on a random pool sample, then exported to ONNX');

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
    window: z.number().int().positive().default(16).describe('embedding activities in flight at once'),
    activityBytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024)
      .describe('small shards are embedded several to an activity, up to this many bytes of shard files (and at least `window` activities per page)'),
    shardsPerExecution: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe('shards one embedPool execution handles before it continues as new, which keeps its history bounded'),
    heartbeatTimeout: duration.default('1m').describe('an embedding attempt silent this long is retried elsewhere'),
    commitTimeout: duration
      .default('2m')
      .describe('a commit attempt is retried after this long; it never writes past half of it, so an attempt given up for dead cannot overlap its retry'),
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
    encoderTraining: encoderTraining.prefault({}),
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
