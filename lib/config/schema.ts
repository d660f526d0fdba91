import { z } from 'zod';
import { DEMO_DATASETS, sourceSpec } from './sources';
import { limitMessage, MAX_PASS_ACTIVITIES, MAX_SEARCHES_PER_EXECUTION, MAX_SHARDS_PER_EXECUTION, MAX_WINDOW } from './work-limits';

/** A Temporal duration string such as `90s`, `5m`, `24h` or `2d`. */
const duration = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'a duration such as 90s, 5m, 24h')
  .meta({ title: 'duration: 90s, 5m, 24h, 2d' });

const runName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, ".", "_" and "-", at most 63 characters');

/** A required field's message when it is absent, saying what to give. */
/** `s3://bucket` or `s3://bucket/prefix`. */
const S3_PREFIX = /^s3:\/\/[^/\s]+(\/\S*)?$/i;

const ifMissing = (message: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? `missing: ${message}` : undefined) });

/** How to ask for the demo, for the messages of the fields it fills in. */
const OR_DEMO = 'or set "demo": true for the demo\'s pool and target';

/** The encoder settings that an exported model fixes: an `encoder.json` beside it supplies those the run does not give (lib/encoder/exported.ts). */
export const MODEL_SETTINGS = ['inputName', 'outputName', 'channels', 'size', 'crop', 'mean', 'std', 'l2Normalize'] as const;
export type ModelSetting = (typeof MODEL_SETTINGS)[number];

const encoderFields = z
  .object({
    model: z
      .string()
      .min(1)
      .optional()
      .describe('ONNX image encoder; when absent, stage 0 trains one self-supervised on a random pool sample'),
    given: z
      .array(z.enum(MODEL_SETTINGS))
      .optional()
      .describe('filled in by validation when model is set, leave it out: which of inputName … l2Normalize the run gives; an encoder.json beside the model supplies the others'),
    inputName: z.string().default('input').describe("the model's input name"),
    outputName: z.string().default('embedding').describe("the model's output name"),
    layout: z.literal('NCHW').default('NCHW').describe('input tensor layout: float32 NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]).default(1).describe('1 (grayscale) or 3 (RGB)'),
    size: z.number().int().positive().default(28).describe('resize the shorter side to this many pixels'),
    crop: z.number().int().positive().default(28).describe('then center-crop to crop x crop'),
    mean: z.array(z.number()).min(1).max(3).default([0.5]).describe('per channel, or one value for all: the input is (pixel / 255 - mean) / std'),
    std: z.array(z.number().positive()).min(1).max(3).default([0.5]).describe('per channel, or one value for all; see mean'),
    l2Normalize: z.boolean().default(true).describe('L2-normalize every vector'),
    batchSize: z.number().int().positive().default(256).describe('images per inference call'),
    device: z.enum(['cpu', 'cuda']).default('cpu').describe("cuda: onnxruntime's CUDA execution provider, on workers set up with `node infra/setup.cjs --cuda`; a worker without a GPU or without the provider fails the embedding, naming what it lacks"),
    threads: z.number().int().nonnegative().default(0).describe('embed threads per worker process (each decodes and infers whole batches); 0 = one per core'),
    intraOpThreads: z.number().int().nonnegative().default(0).describe('onnxruntime threads per embed thread; 0 = cores / threads, so the cores are never oversubscribed'),
    maxPixels: z.number().int().positive().default(64_000_000).describe("larger images are quarantined (decompression bombs); lowers the worker's SEPT_MAX_PIXELS, never raises it"),
  })
  .strict();

/** An encoder section's checks across its fields. */
const checkedEncoder = <T extends typeof encoderFields>(fields: T) =>
  fields
    .refine((e) => e.crop <= e.size, { message: 'crop must not exceed size', path: ['crop'] })
    .refine((e) => e.mean.length === 1 || e.mean.length === e.channels, {
      message: 'mean needs 1 or `channels` values',
      path: ['mean'],
    })
    .refine((e) => e.std.length === 1 || e.std.length === e.channels, {
      message: 'std needs 1 or `channels` values',
      path: ['std'],
    });

const encoder = checkedEncoder(encoderFields).describe(
  'the ONNX image encoder that embeds pool and target images for retrieval, and its preprocessing; the encoder id hashes the model file and the preprocessing',
);

/** `dedup.encoder`: an encoder section whose model is the copy detector, never trained in the run. */
const dedupEncoder = checkedEncoder(
  encoderFields.extend({
    model: z.string().min(1).optional().describe('ONNX copy-detection model (`sept copy-detector` writes one without learned weights); required'),
  }),
);

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
      train: sourceSpec
        .prefault({ kind: 'demo', dataset: 'mnist', split: 'train' })
        .describe(
          "labeled train source (a class subfolder, a manifest's `label`, a WebDataset sample's `.cls` or json `label`): these instances retrieve the subset and fine-tune the model. " +
            'Integer labels are the class indices; otherwise the sorted class names are numbered from 0 (as torchvision ImageFolder), once per run, recorded in <outputDir>/<name>/target/<content>/classes.json',
        ),
      test: sourceSpec
        .prefault({ kind: 'demo', dataset: 'mnist', split: 'test' })
        .describe('labeled test source: top-1 is measured on it, the leakage guard protects it, and it never enters the subset'),
      labelsPerClass: z
        .number()
        .int()
        .positive()
        .optional()
        .describe('keep only the first n labeled train images of each class (a few-label task)'),
      validationPerClass: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'hold out the next n labeled train images of each class after the first labelsPerClass as a validation split: never fine-tuned on, never in the subset (the leakage guard protects it as it does the test set); evaluation reports its top-1 as val_top1 beside the test top-1, so that settings are chosen on it and never on the test set (docs/experiment.md)',
        ),
    }, ifMissing(`name the labeled target task (target.preset, or target.train and target.test), ${OR_DEMO}`))
    .strict()
    .refine((t) => t.validationPerClass === undefined || t.labelsPerClass !== undefined, {
      message: 'needs target.labelsPerClass: the validation split is the labeled train images of each class after the first labelsPerClass',
      path: ['validationPerClass'],
    }),
);

/**
 * `retrieval.materializeGroupSamples` where a run sets none, and for configurations resolved before
 * the setting existed, which executions in flight still carry.
 */
export const MATERIALIZE_GROUP_SAMPLES = 20_000;

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
    policy: z
      .enum(['budget', 'topk-per-target', 'diverse', 'cluster'])
      .default('budget')
      .describe(
        "budget: every target's rank-1 neighbour, then rank-2, ... until `budget` images (within a rank nearest first, ties by target then pool id); topk-per-target: the union of all top-k lists; diverse: the same walk, but each target claims its fair share of the budget in images no other target claimed, walking further down its list where its neighbours are taken, then a top-up; cluster: the pool's spherical k-means (retrieval.cluster), the budget shared over the clusters the train targets fall in, in proportion, each cluster's share a seeded random draw of its pool images (for small target sets). docs/stages/select.md#policies",
      ),
    budget: z.number().int().positive().default(8000).describe('policy budget: total images selected (budget, diverse and cluster)'),
    perTargetCap: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('budget and diverse: no target claims more than this many images of the subset; cap x train targets must reach the budget (checked at the start), and a target whose k neighbours are mostly claimed by others claims fewer, which can leave the budget short'),
    cluster: z
      .object({
        clusters: z.number().int().positive().default(100).describe('centroids of the spherical k-means of the pool (at most the pool rows)'),
        sampleRows: z.number().int().positive().default(20_000).describe('pool rows the k-means is fitted on, a seeded random sample (at least clusters); held in memory with their vectors'),
        iterations: z.number().int().positive().default(20).describe('Lloyd iterations at most (fewer once no assignment changes)'),
        seed: z.number().int().nonnegative().default(0).describe('seeds the sample, the k-means++ initialisation and the draw within each cluster'),
      })
      .strict()
      .prefault({})
      .describe('the cluster policy: pool clustered by spherical k-means, each cluster drawn in proportion to the train targets in it'),
    k: z.number().int().positive().default(200).describe('neighbours retrieved per target instance; the budget policy needs budget / targets distinct images per target, and neighbour lists overlap'),
    minSimilarity: z.number().min(-1).max(1).optional().describe('cosine floor: less similar neighbours are never selected'),
    balanceClasses: z.boolean().default(false).describe('equal budget shares per target class, topped up where a class runs out'),
    search: z.enum(['auto', 'exact', 'ann']).default('auto').describe('auto: the path of lower estimated cost'),
    ann: ann.prefault({}).describe('the LanceDB index that the ann search path builds (once per parameter set) and queries'),
    targetChunk: z.number().int().positive().default(16_384).describe('targets per search activity; each scans its pool partition once'),
    partitionRows: z.number().int().positive().default(2_000_000).describe('pool rows per partition: partitions are searched in parallel, like shards'),
    blockRows: z.number().int().positive().default(32_768).describe('pool vectors per block handed to the search threads of the exact path (each multiplies it tile by tile)'),
    window: z.number().int().positive().max(MAX_WINDOW, limitMessage(MAX_WINDOW, 'pending')).default(2).describe('search activities in flight at once'),
    searchesPerExecution: z
      .number()
      .int()
      .positive()
      .max(MAX_SEARCHES_PER_EXECUTION, limitMessage(MAX_SEARCHES_PER_EXECUTION, 'history'))
      .default(1000)
      .describe('search and merge activities (target chunks x pool partitions searches, then one merge per target chunk) one selectSubset execution runs before it continues as new, which keeps its history bounded'),
    subsetShardSize: z.number().int().positive().default(1000).describe('samples per subset WebDataset shard'),
    materializeGroupSamples: z
      .number()
      .int()
      .positive()
      .default(MATERIALIZE_GROUP_SAMPLES)
      .describe(
        `selected samples per subset-writing activity, about: consecutive pool shards are grouped to this many and written in parallel (\`window\` at once), each group its own subset shards; larger where a selection would need more than ${MAX_PASS_ACTIVITIES.toLocaleString('en-US')} groups`,
      ),
    contactSheet: z
      .object({
        targets: z.number().int().nonnegative().default(8).describe('target images shown (0: no contact sheet)'),
        neighbours: z.number().int().positive().default(8).describe('retrieved neighbours beside each'),
      })
      .strict()
      .prefault({}),
    leakageGuard: z
      .object({
        enabled: z.boolean().default(true).describe('false: no pool image is excluded as a near-duplicate (target images themselves still never enter the subset)'),
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
      .prefault({})
      .describe('keeps near-duplicates of target test images out of the subset: flagged by embedding, confirmed on pixels'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (r.cluster.sampleRows < r.cluster.clusters) issue(['cluster', 'sampleRows'], `${r.cluster.sampleRows} sample rows cannot fit ${r.cluster.clusters} clusters: at least retrieval.cluster.clusters`);
    if (r.perTargetCap !== undefined && r.policy !== 'budget' && r.policy !== 'diverse') issue(['perTargetCap'], `applies to the budget and diverse policies, not ${r.policy}`);
    if (r.balanceClasses && (r.policy === 'diverse' || r.policy === 'cluster')) issue(['balanceClasses'], `applies to the budget policy; ${r.policy} shares the budget by target or by cluster`);
    if (r.minSimilarity !== undefined && r.policy === 'cluster') issue(['minSimilarity'], 'applies to the rank-walk policies; the cluster policy draws images no target retrieved');
  })
  .describe('stage 2: every labeled target instance retrieves its k nearest pool images; under the policy their union is the subset');

const dedup = z
  .object({
    enabled: z.boolean().default(false).describe('true: near-duplicate pool images are grouped after embedding, one kept per group, and the others never selected (the paper has no such stage)'),
    threshold: z.number().gt(0).max(1).default(0.95).describe('cosine at or above which two pool images are near-duplicates (an edge of the k-NN graph)'),
    method: z.enum(['auto', 'exact', 'ann']).default('auto').describe("the self-join's search: exact (every pool row against every other), ann (the pool's LanceDB index, retrieval.ann), auto: the one of lower estimated cost"),
    neighbours: z.number().int().positive().max(1000).default(16).describe('k of the k-NN graph: each pool image links to at most this many of its nearest others at or above the threshold'),
    chunkRows: z.number().int().positive().default(65_536).describe('pool rows each self-join activity holds as queries (their vectors in memory), searched against one pool partition (retrieval.partitionRows)'),
    maxRemovedShare: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe('the deduplication fails, naming the figures, when it would remove more than this share of the pool: an encoder that does not tell images apart at the threshold (an undertrained stage-0 encoder) links nearly everything into one group'),
    encoder: dedupEncoder
      .optional()
      .describe(
        "the ONNX encoder whose vectors the groups are found on, when it is not the retrieval encoder: a copy-detection model (DINOv2 used SSCD for this step), fields as in `encoder`, model required. The pool is embedded with it once more, into its own tables; absent: the retrieval encoder's vectors",
      ),
    contactSheet: z
      .object({
        groups: z.number().int().nonnegative().default(8).describe('duplicate groups shown, largest first (0: no contact sheet)'),
        copies: z.number().int().positive().default(7).describe('removed copies shown beside each representative'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((d) => !d.encoder || d.encoder.model !== undefined, { message: 'names no model: the encoder the groups are found on is an ONNX file (leave dedup.encoder out for the retrieval encoder)', path: ['encoder', 'model'] })
  .describe('pool deduplication between embedding and selection: connected groups of the k-NN graph above the threshold, the smallest sample id of each kept');

/** The trainer that every sept-gpu worker has, built in (lib/trainer/command.ts); a worker's registry adds others. */
export const REFERENCE_TRAINER = 'reference';

/** A trainer's name, in a run and in a worker's registry (SEPT_TRAINERS). */
export const trainerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, ".", "_" and "-", at most 63 characters');

const trainerFields = z
  .object({
    name: trainerName
      .default(REFERENCE_TRAINER)
      .describe(
        `which trainer runs: "${REFERENCE_TRAINER}" (the built-in reference trainer, trainer/) or a name that the sept-gpu workers register in their SEPT_TRAINERS file; a name the worker lacks fails the run at its first trainer job, listing the names it has`,
      ),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto').describe('auto: cuda where torch finds one, cpu otherwise'),
    threads: z.number().int().positive().optional().describe("CPU threads of each trainer process; default: the cores shared out over the processes (one process: torch's default, all cores)"),
    processesPerNode: z
      .union([z.number().int().positive(), z.literal('auto')])
      .default(1)
      .describe(
        'pre-training processes on one sept-gpu worker, data-parallel (torchrun, DistributedDataParallel: NCCL between GPUs, gloo on CPU), each with an equal share of every pretrain.batchSize batch, which must divide; auto: one per GPU the worker sees (1 without GPUs). Fine-tuning, evaluation and export run as one process',
      ),
    nodes: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe(
        'sept-gpu workers that pre-train as one gang (torchrun, meeting at a c10d store on node 0 that the workflow agrees; processesPerNode processes on each): each process gets an equal share of every pretrain.batchSize batch, which must divide over nodes × processesPerNode; a node that dies stops the gang, which resumes from the newest checkpoint on the workers that answer (docs/stages/train.md, Many nodes). Fine-tuning, evaluation and export run on one',
      ),
    rendezvousTimeout: duration
      .default('10m')
      .describe('how long a gang of trainer.nodes > 1 waits for that many sept-gpu workers to answer, at its start and after a node died; then the job fails, naming how many answered'),
    heartbeatTimeout: duration.default('5m').describe('a trainer activity silent this long (its worker died) is retried on another worker, from the newest checkpoint'),
    progressTimeout: duration
      .default('30m')
      .describe(
        'a trainer that reports no event this long (progress, checkpoint, metrics, artifact: a hung rank, a deadlocked collective) is stopped, all its ranks, and the attempt retried from the newest checkpoint; the reference trainer reports progress every few steps',
      ),
    startToCloseTimeout: duration.default('48h').describe('longest one trainer attempt may run'),
    maxAttempts: z.number().int().positive().default(5).describe('attempts per trainer job; the failure then carries the last stderr lines'),
    checkpointEverySteps: z.number().int().positive().default(200).describe('the trainer writes a checkpoint every this many steps'),
    checkpointUri: z
      .string()
      .regex(S3_PREFIX, 'an s3://bucket/prefix URI')
      .optional()
      .describe('s3://bucket/prefix: every GPU worker mirrors trainer checkpoints and final artifacts there, so any worker resumes another\'s work; endpoint and credentials from the AWS_* variables. Not needed when outputDir is a bucket: checkpoints are kept under it'),
  })
  .strict()
  .describe('the trainer process that pre-trains, fine-tunes and evaluates on sept-gpu workers (trainer/PROTOCOL.md)');

/** Why a run may not name a command (the worker decides what runs), and what to do instead. */
export const TRAINER_COMMAND_REFUSED =
  'a run no longer names a command: register the command in SEPT_TRAINERS on the sept-gpu workers and set trainer.name to its name';

/**
 * A run written for a release that took `trainer.command` is told where commands live now, not just
 * "unknown field". Typed as a run writes the section, so that RunConfigInput keeps its fields; any value arrives.
 */
function refusingCommand(raw: z.input<typeof trainerFields>, ctx: z.core.$RefinementCtx): unknown {
  if (isRecord(raw) && 'command' in raw) ctx.addIssue({ code: 'custom', path: ['command'], message: TRAINER_COMMAND_REFUSED, input: raw.command });
  return raw;
}

const trainer = z.preprocess(refusingCommand, trainerFields);

/** The backbones a run may pre-train (trainer/septtrainer/backbones.py): the CPU demo's two, then the paper's from timm. */
export const BACKBONES = ['cnn_small', 'vit_tiny', 'resnet50', 'vit_small_patch16_224', 'vit_base_patch16_224'] as const;

const pretrain = z
  .object({
    method: z.enum(['simclr', 'mae']).default('simclr').describe('self-supervised method: simclr trains a small CNN (the choice for 28x28 on CPU), mae a ViT-Tiny (for 224x224 on GPUs)'),
    backbone: z
      .enum(BACKBONES)
      .optional()
      .describe(
        "the model pre-trained and fine-tuned; default cnn_small for simclr, vit_tiny for mae (the CPU demo's). The paper's, from timm and randomly initialized: resnet50, vit_small_patch16_224, vit_base_patch16_224 (224x224 RGB: encoder.size and crop 224, channels 3; a ViT's patch size must divide encoder.crop). mae needs a ViT",
      ),
    steps: z.number().int().positive().default(600).describe('optimizer steps: exactly steps x batchSize images, whatever the data size'),
    batchSize: z.number().int().positive().default(256).describe('images per step'),
    lr: z.number().positive().default(1e-3).describe('learning rate'),
    seed: z.number().int().nonnegative().default(0).describe('seeds initialization, data order and augmentation'),
  })
  .strict()
  .refine((p) => p.method !== 'mae' || p.backbone === undefined || p.backbone.startsWith('vit'), {
    message: 'method mae needs a ViT: vit_tiny, vit_small_patch16_224 or vit_base_patch16_224',
    path: ['backbone'],
  })
  .describe('stage 3: self-supervised pre-training of the target model on the subset, then kNN and linear-probe accuracy of the frozen encoder');

const encoderTraining = z
  .object({
    sampleSize: z.number().int().positive().default(10_000).describe('random pool images that stage 0 trains the retrieval encoder on'),
    method: z.enum(['simclr', 'mae']).default('simclr').describe('self-supervised method, as pretrain.method'),
    steps: z.number().int().positive().default(200).describe('optimizer steps'),
    batchSize: z.number().int().positive().default(256).describe('images per step'),
    lr: z.number().positive().default(1e-3).describe('learning rate'),
    seed: z.number().int().nonnegative().default(0).describe('seeds the random pool sample and the training'),
  })
  .strict()
  .describe('stage 0, when encoder.model is absent: the retrieval encoder is trained self-supervised on a random pool sample, then exported to ONNX');

/** Fine-tuning's batch size where a run sets none and the labeled train set is larger. */
export const FINETUNE_BATCH_SIZE = 64;

const finetune = z
  .object({
    epochs: z.number().int().positive().default(30).describe('passes over the labeled target train set'),
    batchSize: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(`images per step; default ${FINETUNE_BATCH_SIZE}, or every labeled train image where the target has fewer (a few-shot target); a value larger than the labeled train set fails the run at its first step`),
    lr: z.number().positive().default(1e-3).describe('learning rate'),
    seed: z.number().int().nonnegative().default(0).describe('seeds the linear head, data order and augmentation'),
  })
  .strict()
  .describe('stage 4: fine-tuning of the pre-trained model on the labeled target, then top-1 on the target test set');

const embed = z
  .object({
    window: z.number().int().positive().max(MAX_WINDOW, limitMessage(MAX_WINDOW, 'pending')).default(16).describe('embedding activities in flight at once'),
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
      .max(MAX_SHARDS_PER_EXECUTION, limitMessage(MAX_SHARDS_PER_EXECUTION, 'history'))
      .default(200)
      .describe('shards one embedPool execution handles before it continues as new, which keeps its history bounded'),
    heartbeatTimeout: duration.default('1m').describe('an embedding attempt silent this long is retried elsewhere'),
    commitTimeout: duration
      .default('2m')
      .describe('a commit attempt is retried after this long; it never writes past half of it, so an attempt given up for dead cannot overlap its retry'),
  })
  .strict()
  .describe('stage 1: every pool image into vectors, shard by shard; shards already committed for the encoder are skipped');

/** The demo's pool and target: what `demo: true` stands for where a run names none. */
const DEMO_RUN = {
  pool: {
    sources: [
      { kind: 'demo', dataset: 'fashion-mnist', split: 'all' },
      { kind: 'demo', dataset: 'fashion-mnist', split: 'copies' },
      { kind: 'demo', dataset: 'mnist', split: 'train' },
    ],
  },
  target: { labelsPerClass: 20 },
};

/** The fields of a run configuration; runConfigSchema validates them after reading the input as written. */
export const runConfigFields = z
  .object({
    name: runName.default('demo').describe('run name: workflow ids and outputs derive from it'),
    demo: z
      .boolean()
      .optional()
      .describe('true: the demo run; pool and target default to the demo\'s (Fashion-MNIST with its planted near-duplicates and MNIST digits as the pool, MNIST digits with 20 labels per class as the target)'),
    pool: z
      .object(
        {
          sources: z
            .array(sourceSpec, ifMissing('name the pool\'s sources'))
            .min(1)
            .describe('the pool\'s sources; sample ids are `<source>/<key>`'),
        },
        ifMissing(`name the pool (pool.sources), ${OR_DEMO}`),
      )
      .strict()
      .describe('the unlabeled image pool that the subset is retrieved from'),
    target: target
      .describe('the labeled target task: its train instances retrieve the subset, its test set measures the fine-tuned model'),
    encoder: encoder.prefault({}),
    encoderTraining: encoderTraining.prefault({}),
    store: z
      .object({ uri: z.string().min(1).default('lancedb').describe('LanceDB URI: a path (relative to SEPT_DATA_DIR) or s3://…') })
      .strict()
      .prefault({})
      .describe('the LanceDB store of vectors, quarantine, hits and selection tables'),
    embed: embed.prefault({}),
    retrieval: retrieval.prefault({}),
    dedup: dedup.prefault({}),
    pretrain: pretrain.prefault({}),
    finetune: finetune.prefault({}),
    trainer: trainer.prefault({}),
    outputDir: z
      .string()
      .min(1)
      // Anything else that looks like a URI would become a local folder named after its scheme.
      .refine((p) => S3_PREFIX.test(p) || !/^([a-z][a-z0-9+.-]*:\/\/|s3:)/i.test(p), 'a path, or an s3://bucket/prefix URI')
      .default('runs')
      .describe(
        "run outputs go to <outputDir>/<name>: a path (relative to SEPT_DATA_DIR), or s3://bucket/prefix, which then holds every artifact of the run (endpoint and credentials from the AWS_* variables; workers keep only a bounded cache, SEPT_CACHE_DIR, and stage the trainer's shards there)",
      ),
  })
  .strict()
  // What the trainer would refuse only after stages 0 to 2 have run, refused at the start instead.
  .superRefine((c, ctx) => {
    const processes = c.trainer.processesPerNode;
    const undivided = typeof processes === 'number' ? batchShareIssue(c.pretrain.batchSize, processes, c.trainer.nodes) : undefined;
    if (undivided) ctx.addIssue({ code: 'custom', path: ['pretrain', 'batchSize'], message: undivided });
    const patch = Number(/_patch(\d+)_/.exec(c.pretrain.backbone ?? '')?.[1]);
    if (patch && c.encoder.crop % patch !== 0) {
      ctx.addIssue({ code: 'custom', path: ['encoder', 'crop'], message: `${c.encoder.crop} pixels do not divide into ${c.pretrain.backbone}'s ${patch}-pixel patches; use a multiple of ${patch} (224 for the paper's)` });
    }
  });

/** Why `batch` images do not split evenly over `processes` data-parallel processes on each of `nodes`; undefined when they do. */
export function batchShareIssue(batch: number, processes: number, nodes = 1): string | undefined {
  const total = processes * nodes;
  const of = nodes === 1 ? 'trainer.processesPerNode' : `trainer.nodes × trainer.processesPerNode (${nodes} × ${processes})`;
  return batch % total === 0 ? undefined : `${batch} images do not divide over the ${total} processes of ${of}; use a multiple of ${total}`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `demo: true` fills in the demo's pool and target where the run names none. */
function withDemo(raw: unknown): unknown {
  return isRecord(raw) && raw.demo === true ? { ...DEMO_RUN, ...raw } : raw;
}

/**
 * Records which model settings a run with a named encoder gives, before defaults fill in the rest
 * and make the two look alike: an exported model's encoder.json supplies those it does not give,
 * and must agree with those it gives. Kept once recorded, so a validated configuration validates
 * to itself.
 */
function withGivenModelSettings(raw: unknown): unknown {
  if (!isRecord(raw)) return raw;
  const given = (encoder: unknown) =>
    !isRecord(encoder) || encoder.model === undefined || encoder.given !== undefined ? encoder : { ...encoder, given: MODEL_SETTINGS.filter((k) => encoder[k] !== undefined) };
  const withEncoder = isRecord(raw.encoder) ? { ...raw, encoder: given(raw.encoder) } : raw;
  return isRecord(raw.dedup) && isRecord(raw.dedup.encoder) ? { ...withEncoder, dedup: { ...raw.dedup, encoder: given(raw.dedup.encoder) } } : withEncoder;
}

/**
 * A run's configuration: every entry point (CLI, client, workflow) validates with it. A run names
 * its pool and target, or asks for the demo's with `demo: true`; every other field has a default.
 */
export const runConfigSchema = z.preprocess((raw) => withGivenModelSettings(withDemo(raw)), runConfigFields);

type RunConfigFields = z.input<typeof runConfigFields>;
/** A run's configuration as users write it: pool and target named, or `demo: true`; every other field optional where it has a default. */
export type RunConfigInput = RunConfigFields | (Omit<RunConfigFields, 'demo' | 'pool' | 'target'> & Partial<Pick<RunConfigFields, 'pool' | 'target'>> & { demo: true });
/** A run's configuration after validation, with every default filled in. */
export type RunConfig = z.output<typeof runConfigSchema>;
