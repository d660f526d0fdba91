import { heartbeat } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import type { TrainerJobRef } from '../lib/pipeline/trainer-jobs';
import type { SourceSpec } from '../lib/config/sources';
import { encoderIdOf } from '../lib/encoder/encoder-id';
import { type ExportedEncoder, exportedEncoderConfig } from '../lib/encoder/exported';
import { localEncoderSpec } from '../lib/encoder/model-file';
import { type CheckedInputs, checkRunInputs as check } from '../lib/pipeline/check-inputs';
import { poolPerSource } from '../lib/pipeline/pool-composition';
import { readStageRecord, stageKey, writeStageRecord } from '../lib/pipeline/stage-record';
import { writeExperimentReport } from '../lib/report/experiment';
import { writeRunReport } from '../lib/report/run-report';
import type { ExperimentReportInput, RunReportFiles, RunReportInput } from '../lib/report/types';
import { RunLayout } from '../lib/run-layout';
import { writeRandomPoolSample } from '../lib/selection/random-sample';
import { listTargetInstances } from '../lib/selection/target-set';
import { listAllShards } from '../lib/sources/list-shards';
import { prepareLabeledSet } from '../lib/target/labeled-subset';
import { failFastOnBadInput } from './failures';

/** The run's first step: a missing path, an empty or inconsistent target, a file that is not ONNX fail here, naming the setting. */
export async function checkRunInputs(config: RunConfig): Promise<CheckedInputs> {
  return failFastOnBadInput(() => check(config));
}

/** A completed stage of an earlier run of the same name with the same inputs, if any, and the inputs' key. */
export async function findStageRecord<T>(config: RunConfig, stage: string, inputs: unknown): Promise<{ key: string; result?: T }> {
  const key = stageKey(inputs);
  return { key, result: await failFastOnBadInput(() => readStageRecord<T>(config, stage, key)) };
}

export async function saveStageRecord(config: RunConfig, stage: string, key: string, result: unknown): Promise<void> {
  await failFastOnBadInput(() => writeStageRecord(config, stage, key, result));
}

export interface PoolSample {
  source: SourceSpec;
  samples: number;
  perSource: Record<string, number>;
}

/**
 * A uniform random sample of the pool without the target's images, as shards under the run's folder
 * (`<run>/samples/<name>`): stage 0's training data, and the experiment's random-subset arm.
 */
export async function samplePool(config: RunConfig, name: string, size: number, seed: number): Promise<PoolSample> {
  return failFastOnBadInput(async () => {
    const poolShards = await listAllShards(config.pool.sources);
    const exclude = new Set((await listTargetInstances(config.target)).map((t) => t.id));
    const files = new RunLayout(config.outputDir, config.name).poolSample(name);
    const sample = await writeRandomPoolSample({ poolShards, size, seed, exclude, files, shardSize: config.retrieval.subsetShardSize });
    return { source: { kind: 'webdataset', name: `sample-${name}`, shards: sample.shards }, samples: sample.samples, perSource: sample.perSource };
  });
}

/** The encoder settings of a model the trainer exported (its preprocessing spec read from beside it). */
export async function readExportedEncoder(onnxPath: string): Promise<ExportedEncoder> {
  return failFastOnBadInput(() => exportedEncoderConfig(onnxPath));
}

/** What counting the pool's composition heartbeats: the shard records read so far. */
const countedShards = (shardsRead: number) => heartbeat({ shardsRead });

/** Pool images per source: the baseline against which the subset's composition is read. */
export async function poolComposition(config: RunConfig): Promise<Record<string, number>> {
  return failFastOnBadInput(async () => poolPerSource(config.store.uri, await encoderIdOf(await localEncoderSpec(config.encoder)), config.pool.sources, countedShards));
}

/** What septPipeline asks the report of: the run's figures, and its trainer jobs by name. */
export type ReportRequest = Omit<RunReportInput, 'files' | 'trainerEvents' | 'poolPerSource' | 'target'> & { trainerJobs: TrainerJobRef[] };

/** Stage 5: report.md, report.html and figures under the run's output folder or prefix. */
export async function writeReport(request: ReportRequest): Promise<RunReportFiles> {
  return failFastOnBadInput(async () => {
    const { trainerJobs, ...rest } = request;
    const run = new RunLayout(request.config.outputDir, request.config.name);
    // Written by the training stages, read back here.
    const labeled = await prepareLabeledSet(request.config);
    return writeRunReport({
      ...rest,
      files: run.report,
      poolPerSource: await poolPerSource(request.config.store.uri, request.encoder.encoderId, request.config.pool.sources, countedShards),
      trainerEvents: trainerJobs.map((j) => ({ label: j.label, path: run.trainerJob(j.variant, j.job).events })),
      target: { classes: labeled.classes, classesFile: labeled.classesFile, trainPerLabel: labeled.perLabel, testPerLabel: labeled.test.perLabel },
    });
  });
}

/** The experiment's results table (results.md, results.json) under `<run>/experiment`. */
export async function writeExperiment(input: Omit<ExperimentReportInput, 'files'>): Promise<{ markdown: string; json: string; table: string }> {
  return failFastOnBadInput(() => writeExperimentReport({ ...input, files: new RunLayout(input.config.outputDir, input.config.name).experiment }));
}
