import { heartbeat } from '@temporalio/activity';
import { MATERIALIZE_GROUP_SAMPLES, type RunConfig } from '../lib/config/schema';
import type { TrainerJobRef } from '../lib/pipeline/trainer-jobs';
import type { SourceSpec } from '../lib/config/sources';
import { dedupEncoderId } from '../lib/dedup/encoder-id';
import { type SetDuplicates, setDuplicates } from '../lib/dedup/subset-duplicates';
import type { ShardPlan } from '../lib/embed/shard-plan';
import { encoderIdOf } from '../lib/encoder/encoder-id';
import { type ExportedEncoder, exportedEncoderConfig } from '../lib/encoder/exported';
import { localEncoderSpec } from '../lib/encoder/model-file';
import { type CheckedInputs, checkRunInputs as check } from '../lib/pipeline/check-inputs';
import { poolPerSource } from '../lib/pipeline/pool-composition';
import { readStageRecord, stageKey, writeStageRecord } from '../lib/pipeline/stage-record';
import { readDedupStats } from '../lib/dedup/groups';
import { writeExperimentReport } from '../lib/report/experiment';
import { writeRunReport } from '../lib/report/run-report';
import type { ExperimentReportInput, RunReportFiles, RunReportInput } from '../lib/report/types';
import { RunLayout } from '../lib/run-layout';
import * as randomSample from '../lib/selection/random-sample';
import { listTargetInstances } from '../lib/selection/target-set';
import type { PassPages } from '../lib/sources/pass-pages';
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

const sampleFiles = (config: RunConfig, name: string) => new RunLayout(config.outputDir, config.name).poolSample(name);

const sampleCopy = (config: RunConfig): randomSample.SampleCopy => ({
  shardSize: config.retrieval.subsetShardSize,
  groupSamples: config.retrieval.materializeGroupSamples ?? MATERIALIZE_GROUP_SAMPLES,
});

const poolSampleOf = (name: string, sample: randomSample.RandomSample): PoolSample => ({
  source: { kind: 'webdataset', name: `sample-${name}`, shards: sample.shards },
  samples: sample.samples,
  perSource: sample.perSource,
});

const targetIds = async (config: RunConfig) => (await listTargetInstances(config.target)).map((t) => t.id);

/**
 * A uniform random sample of the pool without the target's images, as shards under the run's folder
 * (`<run>/samples/<name>`): stage 0's training data, and the experiment's random-subset arm. Every
 * step in one activity, for executions started before the `sample-by-page` patch
 * (workflows/pool-sample.ts runs each step as its own activities).
 */
export async function samplePool(config: RunConfig, name: string, size: number, seed: number): Promise<PoolSample> {
  return failFastOnBadInput(async () => {
    const files = sampleFiles(config, name);
    const sample = await randomSample.writeRandomPoolSample({ sources: config.pool.sources, targetIds: await targetIds(config), draw: { size, seed }, files, copy: sampleCopy(config) });
    return poolSampleOf(name, sample);
  });
}

/** The pool sample's shard plan, and the target's ids for its pages to exclude. */
export async function planPoolSample(config: RunConfig, name: string): Promise<ShardPlan> {
  return failFastOnBadInput(async () => randomSample.planPoolSample(config.pool.sources, await targetIds(config), sampleFiles(config, name)));
}

/** One page of the pool sample's plan: its lowest-ranked images into the page's file, their count back. */
export async function samplePoolPage(config: RunConfig, name: string, plan: ShardPlan, pages: PassPages, page: number, size: number, seed: number): Promise<{ samples: number }> {
  return failFastOnBadInput(() => randomSample.samplePoolPage(plan, pages, page, { size, seed }, sampleFiles(config, name), (done) => heartbeat({ shardsDone: done })));
}

/** The pool sample's manifest from its pages, and its copy planned as groups: the sample, and how many groups to copy. */
export async function foldPoolSample(config: RunConfig, name: string, plan: ShardPlan, pages: PassPages, size: number): Promise<{ sample: PoolSample; groups: number }> {
  return failFastOnBadInput(async () => {
    const { sample, groups } = await randomSample.foldPoolSample(plan, pages, size, sampleFiles(config, name), sampleCopy(config));
    return { sample: poolSampleOf(name, sample), groups };
  });
}

/** Copies one group of the pool sample into its shards. */
export async function writePoolSampleGroup(config: RunConfig, name: string, group: number): Promise<{ samples: number; shards: number }> {
  return failFastOnBadInput(() => randomSample.writePoolSampleGroup(sampleFiles(config, name), group));
}

/** The encoder settings of a model the trainer exported (its preprocessing spec read from beside it). */
export async function readExportedEncoder(onnxPath: string): Promise<ExportedEncoder> {
  return failFastOnBadInput(() => exportedEncoderConfig(onnxPath));
}

/** What counting the pool's composition heartbeats: the shard records read so far. */
const countedShards = (shardsRead: number) => heartbeat({ shardsRead });

/**
 * Pool images per source, for the encoder that embedded the pool (`encoderId`, the selection's):
 * the baseline against which the subset's composition is read. Executions of septExperiment that
 * scheduled it before it took the encoder id pass none, and find it from the model.
 */
export async function poolComposition(config: RunConfig, encoderId?: string): Promise<Record<string, number>> {
  return failFastOnBadInput(async () => poolPerSource(config.store.uri, encoderId ?? (await encoderIdOf(await localEncoderSpec(config.encoder))), config.pool.sources, countedShards));
}

/**
 * An experiment arm's pre-training images and its near-duplicates among them, by the pool's groups at
 * the run's `dedup` settings (the experiment deduplicates the pool first, whatever the arms), found on
 * `dedup.encoder`'s vectors when the run names one, else on the retrieval encoder's (`encoderId`).
 */
export async function armDuplicates(config: RunConfig, encoderId: string, sources: SourceSpec[]): Promise<SetDuplicates> {
  return failFastOnBadInput(async () => setDuplicates(config.store.uri, await dedupEncoderId(config, encoderId), config.dedup, sources, config.pool.sources, (shardsRead) => heartbeat({ shardsRead })));
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
export async function writeExperiment(input: Omit<ExperimentReportInput, 'files' | 'dedup'>): Promise<{ markdown: string; json: string; table: string }> {
  return failFastOnBadInput(async () => {
    const layout = new RunLayout(input.config.outputDir, input.config.name);
    return writeExperimentReport({ ...input, files: layout.experiment, dedup: await readDedupStats(layout.dedup.stats) });
  });
}
