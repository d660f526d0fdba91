import {
  ApplicationFailure,
  type ChildWorkflowOptions,
  executeChild,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import type { SelectionStats } from '../lib/selection/stats';
import { type PipelineProgress, runDetails } from '../lib/pipeline/progress';
import type { CheckedInputs } from '../lib/pipeline/check-inputs';
import { encoderStageInputs, finetuneStageInputs, pretrainStageInputs, selectStageInputs } from '../lib/pipeline/stage-inputs';
import { PIPELINE_STAGES, type PipelineStage, type StageTiming } from '../lib/pipeline/stages';
import { finetuneVariant, pipelineTrainerJobs, pretrainVariant } from '../lib/pipeline/trainer-jobs';
import { cpuWork } from './activity-options';
import { SEPT_SEARCH_ATTRIBUTES as SA } from '../lib/temporal/search-attributes';
import { deduplicatePool } from './dedup-pool';
import { embedPool } from './embed-pool';
import type { SeptRunResult } from './pipeline-types';
import { pipelineProgressQuery } from './queries';
import { resolvedRunConfig } from './run-config';
import { selectSubset } from './select-subset';
import { trainEncoder } from './train-encoder';
import { trainModel } from './train-model';

const cpu = cpuWork();

/** Why a selection came out empty, and which setting to change. */
function emptySubset(config: RunConfig, stats: SelectionStats): ApplicationFailure {
  const guard = config.retrieval.leakageGuard;
  const why =
    stats.duplicatesRemoved > 0
      ? `the leakage guard removed ${stats.duplicatesRemoved} pool images as near-duplicates (cosine >= ${guard.threshold}) of target test images: ` +
        'an encoder that maps everything alike does this (train stage 0 longer: encoderTraining.steps), or raise retrieval.leakageGuard.threshold'
      : 'check retrieval.budget, retrieval.k and retrieval.minSimilarity';
  return ApplicationFailure.nonRetryable(`the selected subset of run ${config.name} is empty: ${why}`, 'EmptySubset');
}

/**
 * SEPT end to end, one durable run: (0) train the retrieval encoder on a random pool sample when
 * none is configured; (1) embed the pool; (2) embed the target and select the task-specific subset;
 * (3) pre-train the target model on the subset; (4) fine-tune and evaluate it; (5) write the report.
 * Stages 0 to 4 are child workflows `<run>/<stage>`, each startable alone. A run started again under
 * the same name reuses every stage whose inputs (settings and the content of the pool and the target)
 * are unchanged (stage records under `<run>/stages/`); embedding always runs, and skips the shards
 * already embedded with the same encoder and version.
 */
export async function septPipeline(input?: RunConfigInput): Promise<SeptRunResult> {
  let config = await resolvedRunConfig(input);
  const id = workflowInfo().workflowId;
  const startedAt = Date.now();
  const stages = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, { status: 'pending' }])) as Record<PipelineStage, StageTiming>;
  const progress: PipelineProgress = { run: config.name, stage: 'encoder', stages, figures: {} };
  setHandler(pipelineProgressQuery, () => progress);
  upsertSearchAttributes([{ key: SA.runName, value: config.name }]);

  const show = () => setCurrentDetails(runDetails(progress));
  const child = (stage: PipelineStage): Pick<ChildWorkflowOptions, 'workflowId' | 'typedSearchAttributes' | 'staticSummary'> => ({
    workflowId: `${id}/${stage}`,
    typedSearchAttributes: [{ key: SA.runName, value: config.name }],
    staticSummary: `SEPT run ${config.name}: ${stage}`,
  });

  /** Runs a stage, or reuses its recorded result when `inputs` match an earlier run's; returns the inputs' key. */
  async function stage<T>(name: PipelineStage, inputs: unknown, body: (key: string) => Promise<T>): Promise<{ result: T; key: string }> {
    const entry = stages[name];
    progress.stage = name;
    Object.assign(entry, { status: 'running', startedAt: Date.now(), workflowId: name === 'report' ? undefined : `${id}/${name}` });
    upsertSearchAttributes([{ key: SA.stage, value: name }]);
    show();
    const record = inputs === undefined ? { key: '' } : ((await cpu.findStageRecord(config, name, inputs)) as { key: string; result?: T });
    let result: T;
    if (record.result !== undefined) {
      result = record.result;
      entry.status = 'reused';
    } else {
      result = await body(record.key);
      if (inputs !== undefined) await cpu.saveStageRecord(config, name, record.key, result);
      entry.status = 'done';
    }
    entry.seconds = (Date.now() - entry.startedAt!) / 1000;
    show();
    return { result, key: record.key };
  }

  // What the pool and the target hold now: results computed from other contents are not reused. A run
  // whose check completed before the check reported content (an earlier release) keys as it did then.
  const checked: Partial<CheckedInputs> | undefined = await cpu.checkRunInputs(config);
  const content = checked?.content;

  // Stage 0: the retrieval encoder.
  const trainedInRun = !config.encoder.model;
  if (trainedInRun) {
    const { result } = await stage('encoder', encoderStageInputs(config), () => executeChild(trainEncoder, { ...child('encoder'), args: [config] }));
    config = { ...config, encoder: { ...config.encoder, ...result.encoder } };
  } else {
    stages.encoder.status = 'skipped';
  }

  // Stage 1: the pool's vectors. Always run: a grown pool adds shards, embedded shards are skipped.
  const { result: embed } = await stage('embed', undefined, () => executeChild(embedPool, { ...child('embed'), args: [config] }));
  Object.assign(progress.figures, { encoderId: embed.encoderId, poolImages: embed.samplesEmbedded, quarantined: embed.quarantined });

  // Pool deduplication, when asked for: the selection never takes the copies it removes. Not a
  // stage record of its own: its groups are reused from the store (lib/dedup/tables.ts).
  let dedupEncoderId: string | undefined;
  if (config.dedup?.enabled && patched('pool-dedup')) {
    dedupEncoderId = await deduplicatePool(config, (step) => ({ workflowId: `${id}/${step}`, typedSearchAttributes: [{ key: SA.runName, value: config.name }], staticSummary: `SEPT run ${config.name}: ${step}` }));
  }

  // Stage 2: the task-specific subset.
  const { result: selection, key: selectKey } = await stage('select', selectStageInputs(config, embed, content, dedupEncoderId), () => executeChild(selectSubset, { ...child('select'), args: [config] }));
  if (selection.outputs.samples === 0) throw emptySubset(config, selection.stats);
  Object.assign(progress.figures, { subsetSize: selection.stats.size, subsetShare: selection.stats.size / Math.max(1, selection.plan.poolRows) });
  upsertSearchAttributes([{ key: SA.subsetSize, value: selection.stats.size }]);

  // Stage 3: self-supervised pre-training on the subset (each distinct input trains in its own folder).
  const { result: pretrain, key: pretrainKey } = await stage('pretrain', pretrainStageInputs(config, selectKey), (key) =>
    executeChild(trainModel, {
      ...child('pretrain'),
      args: [config, { pretrainData: [{ kind: 'webdataset', name: 'subset', shards: selection.outputs.shards }], variant: pretrainVariant(key), pretrainOnly: true }],
    }),
  );
  Object.assign(progress.figures, { knnTop1: pretrain.metrics.knn_top1 ?? null, linearProbeTop1: pretrain.metrics.linear_probe_top1 ?? null });

  // Stage 4: fine-tuning and evaluation on the labeled target.
  const { result: finetune, key: finetuneKey } = await stage('finetune', finetuneStageInputs(config, pretrainKey, content), (key) =>
    executeChild(trainModel, { ...child('finetune'), args: [config, { variant: finetuneVariant(key), pretrainedCheckpoint: pretrain.pretrainedCheckpoint }] }),
  );
  const metrics = { ...pretrain.metrics, ...finetune.metrics };
  progress.figures.top1 = metrics.top1 ?? null;
  if (typeof metrics.top1 === 'number') upsertSearchAttributes([{ key: SA.top1, value: metrics.top1 }]);

  // Stage 5: the report.
  const { result: report } = await stage('report', undefined, () =>
    cpu.writeReport({
      run: config.name,
      workflowId: id,
      config,
      startedAt,
      finishedAt: Date.now(),
      stages,
      encoder: { model: config.encoder.model!, encoderId: embed.encoderId, trainedInRun },
      embed,
      selection: { stats: selection.stats, poolRows: selection.plan.poolRows, contactSheet: selection.outputs.contactSheet, manifest: selection.outputs.manifest },
      metrics,
      trainerJobs: pipelineTrainerJobs({ trainedInRun, pretrainKey, finetuneKey }),
    }),
  );

  progress.stage = 'done';
  upsertSearchAttributes([{ key: SA.stage, value: 'done' }]);
  show();
  return {
    run: config.name,
    encoder: { model: config.encoder.model!, encoderId: embed.encoderId, trainedInRun },
    embed,
    selection,
    pretrain,
    finetune,
    metrics,
    report,
    outputs: {
      report: report.markdown,
      reportHtml: report.html,
      encoder: config.encoder.model!,
      vectorsTable: embed.vectorsTable,
      subsetManifest: selection.outputs.manifest,
      subsetStats: selection.outputs.stats,
      ...(selection.outputs.contactSheet ? { contactSheet: selection.outputs.contactSheet } : {}),
      pretrainedCheckpoint: pretrain.pretrainedCheckpoint!,
      finetunedCheckpoint: finetune.finetunedCheckpoint!,
    },
    progress,
  };
}
