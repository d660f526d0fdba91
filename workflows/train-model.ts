import { ActivityCancellationType, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { cpuActivities, gpuActivities } from '../activities';
import type { TrainerResult } from '../activities/train';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { CPU_QUEUE, GPU_QUEUE } from '../lib/temporal/queues';
import { runConfigOrFail } from './run-config';

/** How to train, beyond the run configuration. */
export interface TrainModelOptions {
  /** What to pre-train on: the selected subset in a pipeline; the pool when absent. */
  pretrainData?: SourceSpec[];
  /** Separates trainings of one run on different data (experiment arms); default `main`. */
  variant?: string;
  /** Skip self-supervised pre-training: fine-tune from scratch (the no-pre-training baseline). */
  skipPretrain?: boolean;
}

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
  finetunedCheckpoint: string;
  /** top1 of the fine-tuned model; knn_top1 and linear_probe_top1 of the frozen pre-trained encoder. */
  metrics: Record<string, number | null>;
  progress: TrainModelProgress;
}

/** Stage-level progress; live step, loss, speed and checkpoint are the pending activity's heartbeat. */
export const trainProgressQuery = defineQuery<TrainModelProgress>('progress');

function trainerActivities(config: RunConfig) {
  return proxyActivities<typeof gpuActivities>({
    taskQueue: GPU_QUEUE,
    heartbeatTimeout: config.trainer.heartbeatTimeout,
    startToCloseTimeout: config.trainer.startToCloseTimeout,
    // Wait for the trainer to checkpoint and stop before the workflow reports itself cancelled.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: config.trainer.maxAttempts, initialInterval: '2s', nonRetryableErrorTypes: ['InvalidTrainerConfig'] },
  });
}

const cpu = proxyActivities<typeof cpuActivities>({ taskQueue: CPU_QUEUE, startToCloseTimeout: '30m', retry: { maximumAttempts: 5 } });

function artifact(result: TrainerResult, kind: string): string {
  const found = result.artifacts.find((a) => a.kind === kind)?.path ?? result.lastCheckpoint?.path;
  if (!found) throw new Error(`trainer ${result.job} reported no ${kind}`);
  return found;
}

/** Self-supervised pre-training, fine-tuning on the labeled target, and evaluation, on `sept-gpu`. */
export async function trainModel(configInput?: RunConfigInput, input: TrainModelOptions = {}): Promise<TrainModelResult> {
  const config = runConfigOrFail(configInput);
  const progress: TrainModelProgress = { stage: 'preparing', completed: [], checkpoints: {}, metrics: {}, jobs: {} };
  setHandler(trainProgressQuery, () => progress);
  const trainer = trainerActivities(config);
  const enter = (stage: TrainModelProgress['stage']) => {
    if (progress.stage !== 'preparing') progress.completed.push(progress.stage);
    progress.stage = stage;
  };

  const target = await cpu.prepareLabeledTarget(config);
  const train = async (task: Omit<Parameters<typeof trainer.runTrainer>[0], 'config' | 'variant' | 'numClasses'>) => {
    const result = await trainer.runTrainer({ config, variant: input.variant ?? 'main', numClasses: target.numClasses, ...task });
    progress.jobs[result.job] = { attempt: result.attempt, resumedFromStep: result.resumedFrom?.step ?? 0 };
    return result;
  };

  let pretrainedCheckpoint: string | undefined;
  if (!input.skipPretrain) {
    enter('pretrain');
    const pretrained = await train({ stage: 'pretrain', job: 'pretrain', train: input.pretrainData ?? config.pool.sources });
    pretrainedCheckpoint = progress.checkpoints.pretrain = artifact(pretrained, 'pretrained_checkpoint');

    enter('evaluate-pretrained');
    const probes = await train({ stage: 'evaluate', job: 'evaluate-pretrained', train: [target.source], test: [config.target.test], initCheckpoint: pretrainedCheckpoint });
    Object.assign(progress.metrics, probes.metrics);
  }

  enter('finetune');
  const finetuned = await train({ stage: 'finetune', job: 'finetune', train: [target.source], initCheckpoint: pretrainedCheckpoint });
  const finetunedCheckpoint = (progress.checkpoints.finetune = artifact(finetuned, 'finetuned_checkpoint'));

  enter('evaluate');
  const evaluated = await train({ stage: 'evaluate', job: 'evaluate', train: [target.source], test: [config.target.test], initCheckpoint: finetunedCheckpoint, probes: false });
  progress.metrics.top1 = evaluated.metrics.top1 ?? null;
  enter('done');
  return { pretrainedCheckpoint, finetunedCheckpoint, metrics: progress.metrics, progress };
}
