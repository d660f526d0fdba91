import type { ExperimentArm } from './experiment-arms';
import type { RunConfig } from '../config/schema';
import type { DedupStats } from '../dedup/groups';
import type { PipelineStage, StageTiming } from '../pipeline/stages';
import type { ReportFiles } from '../run-layout';
import type { SelectionStats } from '../selection/stats';
import type { TargetClasses } from '../target/classes';

/** One trainer job's event log (trainer/PROTOCOL.md events, one JSON object per line, each with `at` ms and `attempt`). */
export interface TrainerEventsFile {
  /** e.g. `encoder pretrain`, `pretrain`, `finetune`. */
  label: string;
  path: string;
}

/** Everything the report of one septPipeline run shows; small, it travels as an activity argument. */
export interface RunReportInput {
  run: string;
  workflowId: string;
  /** Where the report goes: the run's report files (lib/run-layout.ts). */
  files: ReportFiles;
  config: RunConfig;
  startedAt: number;
  finishedAt: number;
  stages: Record<PipelineStage, StageTiming>;
  encoder: { model: string; encoderId: string; trainedInRun: boolean };
  embed: { shards: number; samplesEmbedded: number; quarantined: number; quarantinedByReason: Record<string, number> };
  /** Pool images per source (sample-id prefix), for the subset's share of each. */
  poolPerSource: Record<string, number>;
  selection: { stats: SelectionStats; poolRows: number; contactSheet?: string; manifest: string };
  /** top1 (fine-tuned), knn_top1 and linear_probe_top1 (frozen pre-trained encoder). */
  metrics: Record<string, number | null>;
  trainerEvents: TrainerEventsFile[];
  /** The labeled target: its class indices (recorded in `classesFile`), and images per class of its labeled train and test sets. */
  target: { classes: TargetClasses; classesFile: string; trainPerLabel: Record<string, number>; testPerLabel: Record<string, number> };
}

export interface RunReportFiles {
  markdown: string;
  html: string;
  figures: string[];
}

/** One experiment arm and seed: pre-training data, and the accuracies after it. */
export interface ExperimentRow {
  arm: ExperimentArm;
  seed: number;
  /** Pre-training images available to the arm (0 for none). */
  pretrainImages: number;
  /** Of them, images whose near-duplicate group already has a member in the arm's data (rows of experiments before 0.6.0 have none). */
  duplicates?: number;
  /** Pre-training images per source. */
  composition: Record<string, number>;
  metrics: Record<string, number | null>;
}

export interface ExperimentReportInput {
  run: string;
  /** Where the results go: the run's experiment files (lib/run-layout.ts). */
  files: { markdown: string; json: string };
  config: RunConfig;
  poolImages: number;
  poolPerSource: Record<string, number>;
  rows: ExperimentRow[];
  startedAt: number;
  finishedAt: number;
  /** The pool's deduplication, where the experiment ran it (`<run>/dedup/stats.json`). */
  dedup?: DedupStats;
}
