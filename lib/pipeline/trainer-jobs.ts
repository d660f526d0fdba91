/**
 * The trainer jobs of a septPipeline run and the folders they train in (`train/<variant>/<job>`).
 * A pre-training or fine-tuning variant carries its stage's input key, so each distinct input trains
 * in a folder of its own and a rerun with other inputs never resumes a checkpoint of the old ones.
 * Pure and sandbox-safe: the workflows name the jobs, the report reads their event logs.
 */

/** Stage 0's jobs train in `train/encoder/{pretrain,export}`. */
export const ENCODER_VARIANT = 'encoder';
export const pretrainVariant = (pretrainKey: string) => `pretrain-${pretrainKey}`;
export const finetuneVariant = (finetuneKey: string) => `finetune-${finetuneKey}`;

/** One trainer job of the run, for its loss curve. */
export interface TrainerJobRef {
  label: string;
  variant: string;
  job: string;
}

/** The jobs whose loss curves the report shows, in run order. */
export function pipelineTrainerJobs(run: { trainedInRun: boolean; pretrainKey: string; finetuneKey: string }): TrainerJobRef[] {
  return [
    ...(run.trainedInRun ? [{ label: 'encoder pretrain (stage 0)', variant: ENCODER_VARIANT, job: 'pretrain' }] : []),
    { label: 'pretrain', variant: pretrainVariant(run.pretrainKey), job: 'pretrain' },
    { label: 'finetune', variant: finetuneVariant(run.finetuneKey), job: 'finetune' },
  ];
}
