import { z } from 'zod';
import { EXPERIMENT_ARMS } from '../report/experiment-arms';
import { runConfigFields } from '../config/schema';
import { sourceSpec } from '../config/sources';
import { ConfigError, describeIssues } from '../config/validate';
import { FOLDER_NAME, FOLDER_NAME_RULE } from '../storage/access';
import type { EmbedPoolCarry } from '../../workflows/embed-pool';
import { isWorkflowType, type WorkflowType } from './workflow-types';

// The schemas of every workflow's arguments after the run configuration (which runConfigSchema
// validates): whoever can start a workflow (the Temporal UI, a schedule, another team's code) can
// pass anything there, and a workflow checks it all at its start (the resolveRunConfig activity).

/** A folder name under `train/`: no separators, no leading dot, so it stays inside the run's folder. */
const variant = z.string().regex(FOLDER_NAME, FOLDER_NAME_RULE);

export const trainModelOptions = z
  .object({
    pretrainData: z.array(sourceSpec).min(1).optional().describe("what to pre-train on: the selected subset in a pipeline; the pool when absent"),
    variant: variant.optional().describe('separates trainings of one run on different data (experiment arms); default `main`'),
    skipPretrain: z.boolean().optional().describe('skip self-supervised pre-training: fine-tune from scratch (the no-pre-training baseline)'),
    pretrainedCheckpoint: z.string().min(1).optional().describe("fine-tune from this pre-trained checkpoint (a pipeline's pretrain stage) instead of pre-training here"),
    pretrainOnly: z.boolean().optional().describe("stop after pre-training and the frozen-encoder probes (a pipeline's pretrain stage)"),
  })
  .strict()
  .describe('how to train, beyond the run configuration');

/** How to train, beyond the run configuration: trainModel's second argument. */
export type TrainModelOptions = z.infer<typeof trainModelOptions>;


/** Each seed trains every arm in a child workflow of the experiment's: this bounds its history to a few thousand events. */
const MAX_EXPERIMENT_SEEDS = 20;

const distinct = (values: readonly unknown[]) => new Set(values).size === values.length;

export const experimentOptions = z
  .object({
    seeds: z
      .array(z.number().int().nonnegative())
      .min(1)
      .max(MAX_EXPERIMENT_SEEDS)
      .refine(distinct, 'each seed once')
      .optional()
      .describe('default 0 to 4: each seeds pre-training, fine-tuning and the random subset'),
    arms: z.array(z.enum(EXPERIMENT_ARMS)).min(1).refine(distinct, 'each arm once').optional().describe('default all seven, in the order none, random, sept, diverse, cluster, dedup, pool'),
  })
  .strict()
  .describe("the experiment's seeds and arms");

/** septExperiment's second argument. */
export type ExperimentOptions = z.infer<typeof experimentOptions>;

const count = z.number().int().nonnegative();

/**
 * What one embedPool execution hands to the next (workflows/embed-pool.ts). Unknown fields are let
 * through: the workflow reads only these, and a carry of an earlier release must still validate.
 */
export const embedPoolCarry: z.ZodType<EmbedPoolCarry> = z
  .object({
    target: z.object({ encoder: runConfigFields.shape.encoder, encoderId: z.string().min(1), dims: z.number().int().positive(), store: z.string().min(1) }),
    plan: z.object({ path: z.string().min(1), total: count, bytes: count.optional() }),
    next: count,
    progress: z.object({
      encoderId: z.string().optional(),
      shardsDone: count,
      shardsTotal: count,
      samplesEmbedded: count,
      quarantined: count,
      imagesPerSecond: z.number().nonnegative(),
    }),
    processed: count,
    startedAtMs: z.number(),
  })
  .refine((c) => c.next <= c.plan.total, { message: 'next is past the end of the plan', path: ['next'] });

/** What the workflow reads of a plan that searches chunks against pool partitions (selectSubset's, dedupPool's). */
const searchPlanFields = {
  run: runConfigFields.shape.name.unwrap(),
  store: z.string().min(1),
  encoderId: z.string().min(1),
  workDir: z.string().min(1),
  chunks: count,
  partitions: count,
  path: z.enum(['exact', 'ann']),
};

/**
 * What one selectSubset execution hands to the next (workflows/select-subset.ts): its selection plan
 * (lib/selection/plan.ts), its phase and the next search or merge. The fields the workflow reads are checked; the
 * activities let every location in the plan through the worker's door again where they use it.
 * Unknown fields are let through, as for embedPool's carry.
 */
export const selectSubsetCarry = z
  .object({
    plan: z.object(searchPlanFields),
    phase: z.enum(['search', 'merge']).optional(),
    next: count,
  })
  .refine((c) => c.phase === 'merge' || c.next <= c.plan.chunks * c.plan.partitions, { message: 'next is past the last search', path: ['next'] })
  .refine((c) => c.phase !== 'merge' || c.next <= c.plan.chunks, { message: 'next is past the last target chunk to merge', path: ['next'] });

/**
 * What one dedupPool execution hands to the next (workflows/dedup-pool.ts): its plan
 * (lib/dedup/plan.ts) and the next self-join. The fields the workflow reads are checked; unknown
 * fields are let through, as for selectSubset's carry.
 */
export const dedupPoolCarry = z
  .object({
    plan: z.object({ ...searchPlanFields, complete: z.boolean() }),
    next: count,
  })
  .refine((c) => c.next <= c.plan.chunks * c.plan.partitions, { message: 'next is past the last self-join', path: ['next'] });

/** Each workflow's arguments after the run configuration, by name, in order. */
const WORKFLOW_PARAMETERS: Record<WorkflowType, readonly (readonly [name: string, schema: z.ZodType])[]> = {
  septPipeline: [],
  census: [],
  trainEncoder: [],
  selectSubset: [['carry', selectSubsetCarry]],
  dedupPool: [['carry', dedupPoolCarry]],
  embedPool: [['carry', embedPoolCarry]],
  trainModel: [['options', trainModelOptions]],
  septExperiment: [['options', experimentOptions]],
};

/**
 * Validates the arguments a workflow of type `workflow` gets after its run configuration; an
 * absent (undefined) argument is valid, null is not. Throws ConfigError naming the argument and
 * the field, e.g. `trainModel argument 2 (options).variant: …`.
 */
export function checkWorkflowArguments(workflow: string, args: readonly unknown[]): void {
  const parameters = isWorkflowType(workflow) ? WORKFLOW_PARAMETERS[workflow] : [];
  const issues: string[] = [];
  args.forEach((arg, i) => {
    const position = `${workflow} argument ${i + 2}`;
    const parameter = parameters[i];
    if (!parameter) {
      if (arg !== undefined) issues.push(`${position}: unexpected, ${workflow} takes ${parameters.length + 1} argument${parameters.length ? 's' : ''}`);
      return;
    }
    const [name, schema] = parameter;
    const result = schema.optional().safeParse(arg);
    if (!result.success) issues.push(...describeIssues(result.error.issues, `${position} (${name})`));
  });
  if (issues.length > 0) throw new ConfigError(issues, 'workflow arguments');
}
