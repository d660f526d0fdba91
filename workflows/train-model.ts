import { executeChild, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RunConfigInput } from '../lib/config/schema';
import type { TrainModelOptions } from '../lib/temporal/workflow-args';
import { cpuWork, trainer as trainerActivities } from './activity-options';
import { trainProgressQuery } from './queries';
import { trainGang } from './train-gang';
import { resolvedRunConfig } from './run-config';
import { artifactPath } from './trainer-artifacts';

export type { TrainModelOptions } from '../lib/temporal/workflow-args';

export interface TrainModelProgress {
  stage: 'preparing' | 'pretrain' | 'evaluate-pretrained' | 'finetune' | 'evaluate' | 'done';
  completed: string[];
  checkpoints: Record<string, string>;
  metrics: Record<string, number | null>;
  /** Per trainer job: the attempt that finished it and the step it resumed from (0: from scratch). */
  jobs: Record<string, { attempt: number; resumedFromStep: number }>;
}

export interface TrainModelResult {
  pretrainedCheckpoint?: string;
  /** Absent when the workflow stopped after pre-training. */
  finetunedCheckpoint?: string;
  /** top1 (and val_top1, on the validation split) of the fine-tuned model; knn_top1 and linear_probe_top1 of the frozen pre-trained encoder. */
  metrics: Record<string, number | null>;
  progress: TrainModelProgress;
}

const cpu = cpuWork();

/** Self-supervised pre-training, fine-tuning on the labeled target, and evaluation, on `sept-gpu`. */
export async function trainModel(configInput?: RunConfigInput, input: TrainModelOptions = {}): Promise<TrainModelResult> {
  const config = await resolvedRunConfig(configInput, input);
  const progress: TrainModelProgress = { stage: 'preparing', completed: [], checkpoints: {}, metrics: {}, jobs: {} };
  setHandler(trainProgressQuery, () => progress);
  const trainer = trainerActivities(config);
  const enter = (stage: TrainModelProgress['stage']) => {
    if (progress.stage !== 'preparing') progress.completed.push(progress.stage);
    progress.stage = stage;
  };

  const target = await cpu.prepareLabeledTarget(config);
  const train = async (task: Omit<Parameters<typeof trainer.runTrainer>[0], 'config' | 'variant' | 'numClasses'>) => {
    const job = { config, variant: input.variant ?? 'main', numClasses: target.numClasses, ...task };
    // Pre-training on several sept-gpu workers: a gang (workflows/train-gang.ts); a configuration resolved before trainer.nodes has none.
    const gang = task.stage === 'pretrain' && (config.trainer.nodes ?? 1) > 1 && patched('trainer-gang');
    const result = gang ? await executeChild(trainGang, { args: [job], workflowId: `${workflowInfo().workflowId}/${task.job}-gang` }) : await trainer.runTrainer(job);
    progress.jobs[result.job] = { attempt: result.attempt, resumedFromStep: result.resumedFrom?.step ?? 0 };
    return result;
  };

  let pretrainedCheckpoint = input.pretrainedCheckpoint;
  if (!input.skipPretrain && !pretrainedCheckpoint) {
    enter('pretrain');
    const pretrained = await train({ stage: 'pretrain', job: 'pretrain', train: input.pretrainData ?? config.pool.sources });
    pretrainedCheckpoint = progress.checkpoints.pretrain = artifactPath(pretrained, 'pretrained_checkpoint');

    enter('evaluate-pretrained');
    const probes = await train({ stage: 'evaluate', job: 'evaluate-pretrained', train: [target.source], test: [config.target.test], initCheckpoint: pretrainedCheckpoint });
    Object.assign(progress.metrics, probes.metrics);
    if (input.pretrainOnly) {
      enter('done');
      return { pretrainedCheckpoint, metrics: progress.metrics, progress };
    }
  }

  enter('finetune');
  const finetuned = await train({ stage: 'finetune', job: 'finetune', train: [target.source], initCheckpoint: pretrainedCheckpoint });
  const finetunedCheckpoint = (progress.checkpoints.finetune = artifactPath(finetuned, 'finetuned_checkpoint'));

  enter('evaluate');
  const evaluated = await train({ stage: 'evaluate', job: 'evaluate', train: [target.source], test: [config.target.test], initCheckpoint: finetunedCheckpoint, probes: false });
  progress.metrics.top1 = evaluated.metrics.top1 ?? null;
  // With target.validationPerClass: top-1 on the validation split too, which settings are chosen by.
  if (target.validation) {
    const validated = await train({ stage: 'evaluate', job: 'evaluate-validation', train: [target.source], test: [target.validation.source], initCheckpoint: finetunedCheckpoint, probes: false });
    progress.metrics.val_top1 = validated.metrics.top1 ?? null;
  }
  enter('done');
  return { pretrainedCheckpoint, finetunedCheckpoint, metrics: progress.metrics, progress };
}
