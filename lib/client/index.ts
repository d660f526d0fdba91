import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition, WorkflowResultType } from '@temporalio/common';
import type { RunConfigInput } from '../config/schema';
import { RUN_CONFIG_SCHEMA_FILE } from '../config/json-schema';
import { parseRunConfig } from '../config/validate';
import { projectRoot } from '../paths';
import { connectClient } from '../temporal/connection';
import { CPU_QUEUE } from '../temporal/queues';
import { checkWorkflowArguments } from '../temporal/workflow-args';
import type { SeptWorkflow, WorkflowType } from '../temporal/workflow-types';
import { embedProgressQuery, experimentProgressQuery, pipelineProgressQuery, trainProgressQuery } from '../../workflows/queries';
import { explainingFailure } from './failure';
import { runSummary } from './summary';

export type { RunConfig, RunConfigInput } from '../config/schema';
export type { SourceSpec } from '../config/sources';
export { runConfigSchema } from '../config/schema';
export { ConfigError, parseRunConfig } from '../config/validate';
export { loadRunConfig } from '../config/load';
export { runConfigJsonSchema, RUN_CONFIG_SCHEMA_FILE } from '../config/json-schema';
export type { PipelineFigures, PipelineProgress, PipelineStage, SeptRunResult, StageTiming } from '../../workflows/pipeline-types';
export { CPU_QUEUE, GPU_QUEUE } from '../temporal/queues';
export type { WorkflowType } from '../temporal/workflow-types';
export { runSummary } from './summary';
export { explainRunFailure, explainingFailure, type FailedRun, RunFailedError } from './failure';
export type { ExperimentOptions, TrainModelOptions } from '../temporal/workflow-args';

/** The workflow that runs SEPT end to end: encoder, embed, select, pre-train, fine-tune, report. */
export const SEPT_PIPELINE = 'septPipeline' satisfies WorkflowType;

/** The `progress` query of each workflow type that answers one. */
const PROGRESS_QUERIES = {
  septPipeline: pipelineProgressQuery,
  septExperiment: experimentProgressQuery,
  embedPool: embedProgressQuery,
  trainModel: trainProgressQuery,
} satisfies Partial<Record<WorkflowType, QueryDefinition<unknown>>>;

type ProgressQueries = typeof PROGRESS_QUERIES;

/** What the `progress` query of a workflow type answers; `never` for the types that answer none. */
export type ProgressOf<T extends WorkflowType> = T extends keyof ProgressQueries ? (ProgressQueries[T] extends QueryDefinition<infer P> ? P : never) : never;

/** What a workflow type returns. */
export type ResultOf<T extends WorkflowType> = WorkflowResultType<SeptWorkflow<T>>;

function progressQueryOf(type: string): QueryDefinition<unknown> | undefined {
  return type in PROGRESS_QUERIES ? PROGRESS_QUERIES[type as keyof ProgressQueries] : undefined;
}

/** Absolute path of the run configuration's JSON Schema (for editors and the Temporal UI). */
export const runConfigJsonSchemaPath = join(projectRoot, RUN_CONFIG_SCHEMA_FILE);

export interface SeptRunOptions {
  /** A connected client to use (and leave open); by default one is connected from the environment (TEMPORAL_ADDRESS, …). */
  client?: Client;
  /** Default: the run name, `config.name`. */
  workflowId?: string;
  /** Default: `sept-cpu`, where septflow's workflows run. */
  taskQueue?: string;
  /** One line the Temporal UI shows for the run; default: pool, target, budget and pre-training of the config. */
  summary?: string;
  /** Arguments after the configuration, for workflows that take options (trainModel's, septExperiment's); validated like the configuration. */
  extraArgs?: unknown[];
}

/** A started (or found) run. `close()` releases the connection when the API opened it. */
export interface SeptRunHandle<Progress = ProgressOf<'septPipeline'>, Result = ResultOf<'septPipeline'>> {
  workflowId: string;
  /** Run id: the first execution of a started run; the latest execution of a found one. */
  runId: string;
  /** The workflow's `progress` query; needs a `sept-cpu` worker to answer. Rejects for a type that answers none (census, …). */
  progress(): Promise<Progress>;
  /**
   * Waits for the run to finish; when it failed or was cancelled, rejects with RunFailedError (a
   * WorkflowFailedError, same cause) whose message is the failure chain down to the root cause.
   */
  result(): Promise<Result>;
  /** Asks the run to stop: running trainers checkpoint first. Resolves once the request is recorded. */
  cancel(): Promise<void>;
  close(): Promise<void>;
  /** The underlying Temporal handle, for anything else (signals, describe, history). */
  readonly workflow: WorkflowHandle;
}

async function clientFor(options: { client?: Client }): Promise<{ client: Client; owned: boolean }> {
  return options.client ? { client: options.client, owned: false } : { client: await connectClient(), owned: true };
}

function toRunHandle<T extends WorkflowType>(type: string, workflow: WorkflowHandle, runId: string, client: Client, owned: boolean): SeptRunHandle<ProgressOf<T>, ResultOf<T>> {
  let closed: Promise<void> | undefined;
  const query = progressQueryOf(type) as QueryDefinition<ProgressOf<T>> | undefined;
  return {
    workflowId: workflow.workflowId,
    runId,
    workflow,
    progress: () => (query ? workflow.query(query) : Promise.reject(new Error(`${type} ${workflow.workflowId} answers no progress query`))),
    result: () => explainingFailure(client, { workflowType: type, workflowId: workflow.workflowId }, workflow.result() as Promise<ResultOf<T>>),
    cancel: async () => {
      await workflow.cancel();
    },
    close: () => (closed ??= owned ? client.connection.close() : Promise.resolve()),
  };
}

/**
 * Starts a workflow of a septflow run by type: the run configuration and `extraArgs` are validated
 * first (a ConfigError names every bad field, and nothing is started or connected), then the
 * workflow starts with `[config, ...extraArgs]` as its arguments. `startSeptRun` is this with
 * `septPipeline`; the other types (`census`, `trainModel`, …) serve single stages and tests.
 */
export async function startWorkflowRun<T extends WorkflowType>(
  workflowType: T,
  input: RunConfigInput,
  options: SeptRunOptions = {},
): Promise<SeptRunHandle<ProgressOf<T>, ResultOf<T>>> {
  const config = parseRunConfig(input);
  checkWorkflowArguments(workflowType, options.extraArgs ?? []);
  const { client, owned } = await clientFor(options);
  try {
    // Typed by T on the way out; the arguments are every workflow's first (the configuration) and the caller's extraArgs.
    const workflow = await client.workflow.start(workflowType, {
      taskQueue: options.taskQueue ?? CPU_QUEUE,
      workflowId: options.workflowId ?? config.name,
      args: [config, ...(options.extraArgs ?? [])],
      staticSummary: options.summary ?? runSummary(config),
    });
    return toRunHandle<T>(workflowType, workflow, workflow.firstExecutionRunId, client, owned);
  } catch (err) {
    if (owned) await client.connection.close();
    throw err;
  }
}

/**
 * Validates a run configuration and starts `septPipeline` on it (workflow id: the run name). Throws
 * ConfigError naming each bad field before anything starts; WorkflowExecutionAlreadyStartedError
 * when a run of that name is still running.
 */
export function startSeptRun(config: RunConfigInput, options: SeptRunOptions = {}): Promise<SeptRunHandle> {
  return startWorkflowRun(SEPT_PIPELINE, config, options);
}

/**
 * A handle on an existing run (its latest execution); throws WorkflowNotFoundError when there is
 * none. `T` types its progress and result: a septPipeline run unless told otherwise.
 */
export async function getSeptRun<T extends WorkflowType = typeof SEPT_PIPELINE>(
  workflowId: string,
  options: { client?: Client; runId?: string } = {},
): Promise<SeptRunHandle<ProgressOf<T>, ResultOf<T>>> {
  const { client, owned } = await clientFor(options);
  try {
    const workflow = client.workflow.getHandle<SeptWorkflow<T>>(workflowId, options.runId);
    const { runId, type } = await workflow.describe();
    return toRunHandle<T>(type, workflow, runId, client, owned);
  } catch (err) {
    if (owned) await client.connection.close();
    throw err;
  }
}
