import { getHeapStatistics } from 'node:v8';
import { ApplicationFailure } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import { ConfigError, parseRunConfig } from '../lib/config/validate';
import { selectionMemoryIssue } from '../lib/config/work-limits';
import { resolveEncoderSettings } from '../lib/encoder/exported';
import { checkRunLocations } from '../lib/pipeline/check-inputs';
import { checkWorkflowArguments } from '../lib/temporal/workflow-args';

/**
 * A run's configuration with every default filled in, and a configured model's settings from the
 * encoder.json beside it (lib/encoder/exported.ts), computed once (an activity, its result recorded in
 * the workflow's history) so that a later change of a default in the schema cannot change what a
 * running workflow does when it replays. Invalid input fails at once, not retryable, naming each field,
 * and so does a place it names outside the roots and buckets this worker allows (checkRunLocations),
 * or a budget whose selection would not fit in this worker's memory (lib/config/work-limits.ts).
 *
 * `workflow` and `args`: the type of the workflow that asks and its arguments after the
 * configuration, validated here too, the verdict recorded with the result. Workflows of earlier
 * releases send the configuration alone.
 */
export async function resolveRunConfig(input: unknown, workflow?: string, ...args: unknown[]): Promise<RunConfig> {
  try {
    if (workflow !== undefined) checkWorkflowArguments(workflow, args);
    const config = parseRunConfig(input);
    checkRunLocations(config);
    // The budget's selection is held by a sept-cpu worker such as this one: refused now, not after the embedding.
    const memory = selectionMemoryIssue(config.retrieval, getHeapStatistics().heap_size_limit);
    if (memory) throw new ConfigError([memory]);
    const resolved = { ...config, encoder: await resolveEncoderSettings(config.encoder) };
    // Configurations resolved before dedup.encoder existed have none, nor a dedup section at all.
    if (config.dedup?.encoder) resolved.dedup = { ...config.dedup, encoder: await resolveEncoderSettings(config.dedup.encoder, 'dedup.encoder') };
    return resolved;
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidRunConfig', { issues: err.issues });
    throw err;
  }
}
