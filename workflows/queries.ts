import { defineQuery } from '@temporalio/workflow';
import type { PipelineProgress } from '../lib/pipeline/progress';
import type { EmbedProgress } from './embed-progress';
import type { ExperimentProgress } from './sept-experiment';
import type { TrainModelProgress } from './train-model';

// The `progress` query of each workflow that answers one. They live apart from the workflows so
// that clients import the definitions (and their result types) without loading workflow code.

export const pipelineProgressQuery = defineQuery<PipelineProgress>('progress');

export const experimentProgressQuery = defineQuery<ExperimentProgress>('progress');

export const embedProgressQuery = defineQuery<EmbedProgress>('progress');

/** Stage-level progress; live step, loss, speed and checkpoint are the pending activity's heartbeat. */
export const trainProgressQuery = defineQuery<TrainModelProgress>('progress');
