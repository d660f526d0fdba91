import type { RunConfig } from '../config/schema';
import type { SelectionStats } from '../selection/stats';

/** Pipeline stages in run order; each but `report` is a child workflow `<run>/<stage>`. */
export const PIPELINE_STAGES = ['encoder', 'embed', 'select', 'pretrain', 'finetune', 'report'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** done: ran in this run; reused: a completed earlier run's result with the same inputs; skipped: not needed (an encoder was configured). */
export type StageStatus = 'pending' | 'running' | 'done' | 'reused' | 'skipped';

export interface StageTiming {
  status: StageStatus;
  /** Child workflow id, where the stage is one. */
  workflowId?: string;
  /** Epoch milliseconds (workflow time). */
  startedAt?: number;
  seconds?: number;
}

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
  /** Absolute folder of the run's outputs: the report goes to `<runDir>/report.md`, `report.html` and `figures/`. */
  runDir: string;
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
}

export interface RunReportFiles {
  markdown: string;
  html: string;
  figures: string[];
}

/** One experiment arm and seed: pre-training data, and the accuracies after it. */
export interface ExperimentRow {
  arm: 'none' | 'random' | 'sept' | 'pool';
  seed: number;
  /** Pre-training images available to the arm (0 for none). */
  pretrainImages: number;
  /** Pre-training images per source. */
  composition: Record<string, number>;
  metrics: Record<string, number | null>;
}

export interface ExperimentReportInput {
  run: string;
  /** `<runDir>/experiment`: results.md, results.json. */
  dir: string;
  config: RunConfig;
  poolImages: number;
  poolPerSource: Record<string, number>;
  rows: ExperimentRow[];
  startedAt: number;
  finishedAt: number;
}
