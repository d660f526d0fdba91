import type { PipelineProgress } from '../lib/pipeline/progress';
import type { RunReportFiles } from '../lib/report/types';
import type { EmbedPoolResult } from './embed-pool';
import type { SelectSubsetResult } from './select-subset';
import type { TrainModelResult } from './train-model';

export type { PipelineFigures, PipelineProgress } from '../lib/pipeline/progress';
export type { PipelineStage, StageTiming } from '../lib/pipeline/stages';

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
