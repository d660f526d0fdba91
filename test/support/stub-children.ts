// A workflow bundle for testing septPipeline's plan alone (and septExperiment's): the real workflows, and stand-ins
// registered under its children's names (executeChild starts a child by its function's name).
// The stand-ins return results shaped like the real ones from what they are given.
import { workflowInfo } from '@temporalio/workflow';
import type { RunConfig } from '../../lib/config/schema';
import type { DedupStats } from '../../lib/dedup/groups';
import type { EmbedPoolResult } from '../../workflows/embed-pool';
import type { SelectSubsetResult } from '../../workflows/select-subset';
import type { TrainEncoderResult } from '../../workflows/train-encoder';
import type { TrainModelOptions, TrainModelResult } from '../../workflows/train-model';

export { septPipeline } from '../../workflows/sept-pipeline';
export { septExperiment } from '../../workflows/sept-experiment';

export async function trainEncoder(config: RunConfig): Promise<TrainEncoderResult> {
  const model = `/runs/${config.name}/encoder-${config.encoderTraining.steps}.onnx`;
  return { encoder: { model, inputName: 'input', outputName: 'embedding' } as TrainEncoderResult['encoder'], sampleSize: 10, pretrainedCheckpoint: '/ckpt/encoder' };
}

export async function embedPool(config: RunConfig): Promise<EmbedPoolResult> {
  return { encoderId: `enc:${config.encoder.model}`, vectorsTable: 'vectors', shards: config.pool.sources.length, samplesEmbedded: 100, quarantined: 0, quarantinedByReason: {} };
}

export async function dedupPool(config: RunConfig): Promise<DedupStats> {
  if (!config.dedup.enabled) throw new Error('dedupPool started with dedup.enabled false');
  return { groupsTable: 'dedup_x', threshold: config.dedup.threshold, neighbours: config.dedup.neighbours, path: 'exact', poolRows: 100, groups: 3, removed: 4, largestGroup: 3, reused: false };
}

/**
 * An empty subset when the budget is 1: the pipeline must refuse to pre-train on nothing. Its one
 * source is named by the policy (and `+dedup` where the pool is deduplicated), so a caller can tell
 * which selection it got.
 */
export async function selectSubset(config: RunConfig): Promise<SelectSubsetResult> {
  const size = config.retrieval.budget === 1 ? 0 : 10;
  return {
    plan: { encoderId: 'enc', poolRows: 100, targets: { train: 20, test: 5 }, path: 'exact', cost: {} as never, partitions: 1, chunks: 1 },
    stats: { size, duplicatesRemoved: 0, perSource: { [`${config.retrieval.policy}${config.dedup.enabled ? '+dedup' : ''}`]: size } } as unknown as SelectSubsetResult['stats'],
    outputs: { shards: [`/runs/${config.name}/subset-000000.tar`], samples: size, manifest: 'subset.jsonl', stats: 'stats.json' },
    selectionTable: 'selection',
  };
}

export async function trainModel(_config: RunConfig, options: TrainModelOptions): Promise<TrainModelResult> {
  const progress = { stage: 'done' as const, completed: [], checkpoints: {}, metrics: {}, jobs: {} };
  if (options.pretrainOnly) return { pretrainedCheckpoint: `/ckpt/${workflowInfo().workflowId}/${options.variant}`, metrics: { knn_top1: 0.5 }, progress };
  return { finetunedCheckpoint: `/ckpt/${options.variant}`, metrics: { top1: 0.9 }, progress };
}
