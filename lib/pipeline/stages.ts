/**
 * The stages of a septPipeline run, in run order; each but `report` is a child workflow
 * `<run>/<stage>`. Pure and sandbox-safe: workflows, the report and the CLI read it.
 */
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
