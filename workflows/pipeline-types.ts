import type { PipelineStage, RunReportFiles, StageTiming } from '../lib/report/types';
import type { EmbedPoolResult } from './embed-pool';
import type { SelectSubsetResult } from './select-subset';
import type { TrainModelResult } from './train-model';

export type { PipelineStage, StageTiming } from '../lib/report/types';

/** Key figures of a run as they become known; the Temporal UI shows them as current details. */
export interface PipelineFigures {
  encoderId?: string;
  poolImages?: number;
  quarantined?: number;
  subsetSize?: number;
  /** Subset size / pool images. */
  subsetShare?: number;
  knnTop1?: number | null;
  linearProbeTop1?: number | null;
  top1?: number | null;
}

/** What the `progress` query of septPipeline returns: the stage, each stage's state, the figures so far. */
export interface PipelineProgress {
  run: string;
  stage: PipelineStage | 'done';
  stages: Record<PipelineStage, StageTiming>;
  figures: PipelineFigures;
}

export interface SeptRunResult {
  run: string;
  encoder: { model: string; encoderId: string; trainedInRun: boolean };
  embed: EmbedPoolResult;
  selection: SelectSubsetResult;
  pretrain: TrainModelResult;
  finetune: TrainModelResult;
  /** top1 (fine-tuned), knn_top1 and linear_probe_top1 (frozen pre-trained encoder). */
  metrics: Record<string, number | null>;
  report: RunReportFiles;
  /** Every output a person may want to open, by name. */
  outputs: Record<string, string>;
  progress: PipelineProgress;
}
