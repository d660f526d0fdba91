import { FINETUNE_BATCH_SIZE, REFERENCE_TRAINER, type RunConfig } from '../config/schema';

/**
 * What each reusable stage's result depends on: settings, and what the pool and the target hold
 * (InputContent). A run started again under the same name reuses a stage whose inputs hash to the
 * key of its record (lib/pipeline/stage-record.ts); anything left out here is silently reused when
 * it changes, anything added makes a rerun redo the stage. Each
 * stage's inputs include the key of the stage it builds on, so staleness flows downstream.
 * Pure and sandbox-safe: septPipeline calls these; test/unit/lib/pipeline/stage-inputs.test.ts holds the rules.
 * Changing a shape here changes every key: runs in flight then redo their stages once.
 */

/** What decides an image's pixels for the encoder and the trainer: a change here invalidates what was learned. */
const imageSettings = (c: RunConfig) => ({ channels: c.encoder.channels, size: c.encoder.size, crop: c.encoder.crop, mean: c.encoder.mean, std: c.encoder.std });

/**
 * What the run's inputs held when its first step listed them (lib/pipeline/check-inputs.ts): a
 * fingerprint of each one's shard ids and versions (lib/sources/shard-ref.ts contentFingerprint),
 * so that a source changed under the same settings makes its stages stale. Undefined for a run
 * whose first step completed before fingerprints were kept: its stages key as they did then.
 */
export interface InputContent {
  pool: string;
  targetTrain: string;
  targetTest: string;
}

const targetContent = (content: InputContent | undefined) => content && { train: content.targetTrain, test: content.targetTest };

/**
 * Which trainer learned a stage's weights: null for the reference trainer, as it keyed when runs
 * named a command and the reference trainer was the absent one (configurations resolved then carry
 * no name), so their records still match; another trainer by its name.
 */
const trainerKey = (c: RunConfig) => (c.trainer.name === undefined || c.trainer.name === REFERENCE_TRAINER ? null : c.trainer.name);

/**
 * Stage 0, the retrieval encoder trained on a pool sample. Keyed on the pool's specification, not
 * its content: an encoder trained on an earlier sample still embeds every image validly, and
 * retraining it on every grown or touched pool would re-embed the whole pool (a new encoder id).
 * Change `encoderTraining.seed` to retrain.
 */
export const encoderStageInputs = (c: RunConfig) => ({ pool: c.pool, training: c.encoderTraining, image: imageSettings(c), trainer: trainerKey(c) });

/** What the embedding stage hands on: the encoder's identity and how much of the pool it embedded. */
export interface EmbeddedPool {
  encoderId: string;
  shards: number;
  samplesEmbedded: number;
}

/**
 * Stage 2, the selection: the pool's vectors (by encoder, size and content), the target, the
 * retrieval settings, and what deduplication removes: its settings, and the id of `dedup.encoder`
 * (`dedupEncoderId`, from its embedding) when the groups are found on an encoder of their own.
 */
export const selectStageInputs = (c: RunConfig, embed: EmbeddedPool, content?: InputContent, dedupEncoderId?: string) => ({
  encoderId: embed.encoderId,
  shards: embed.shards,
  samples: embed.samplesEmbedded,
  pool: c.pool,
  poolContent: content?.pool,
  target: c.target,
  targetContent: targetContent(content),
  retrieval: c.retrieval,
  // Absent (so keys as before) unless deduplication removes images from the candidates.
  dedup: c.dedup?.enabled ? { threshold: c.dedup.threshold, method: c.dedup.method, neighbours: c.dedup.neighbours, ...(dedupEncoderId ? { encoderId: dedupEncoderId } : {}) } : undefined,
});

/** Stage 3, self-supervised pre-training on the selected subset. */
export const pretrainStageInputs = (c: RunConfig, selectKey: string) => ({ select: selectKey, pretrain: c.pretrain, image: imageSettings(c), trainer: trainerKey(c) });

/**
 * Stage 4, fine-tuning and evaluation on the labeled target. An unset batch size keys as its
 * default: the two train alike wherever the explicit default can run (a smaller target fails it at
 * the first step), and runs recorded while the default was written out keep their records.
 */
export const finetuneStageInputs = (c: RunConfig, pretrainKey: string, content?: InputContent) => ({
  pretrain: pretrainKey,
  finetune: { ...c.finetune, batchSize: c.finetune.batchSize ?? FINETUNE_BATCH_SIZE },
  target: c.target,
  targetContent: targetContent(content),
});
