import { ActivityFailure, ApplicationFailure, patched, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type * as runConfigActivities from '../activities/run-config';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import { ConfigError, parseRunConfig } from '../lib/config/validate';
import { configResolution } from './activity-options';

/** Release 0.2.0 resolved the configuration in a local activity; its executions replay that way. */
const local = proxyLocalActivities<typeof runConfigActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 3 } });

/**
 * The workflow's run configuration, validated by the same schema as the CLI and the client, with
 * its defaults resolved once before the workflow's first command and recorded in its history (the
 * resolving activity's result). Input from the Temporal UI arrives unchecked: a bad field fails the
 * workflow at once, not retryable, naming it.
 *
 * An activity, not a local activity: a local activity's result can be recorded in one workflow task
 * and the workflow's reaction to it in the next (when a query or a task timeout ends a workflow task
 * while it runs), and a `patched()` call right after it then returns false on replay and fails the
 * workflow with a nondeterminism error (sdk-core; docs/architecture.md, "No local activities").
 * Executions started by 0.2.0 use the local activity, and those started before 0.2.0 parse in the
 * workflow, as they did when they were recorded.
 *
 * `args`: the workflow's other arguments, which the same activity validates (lib/temporal/workflow-args.ts).
 * No patch: a replay takes the activity's recorded result, whatever it was sent.
 */
export async function resolvedRunConfig(input: RunConfigInput | undefined, ...args: unknown[]): Promise<RunConfig> {
  if (patched('run-config-activity')) return failingAsInvalid(configResolution().resolveRunConfig(input, workflowInfo().workflowType, ...args));
  if (patched('run-config-resolved-once')) return failingAsInvalid(local.resolveRunConfig(input));
  return parsedInWorkflow(input);
}

/** Fails with the validation failure itself, as the in-workflow parse does, not an activity failure around it. */
async function failingAsInvalid(resolving: Promise<RunConfig>): Promise<RunConfig> {
  try {
    return await resolving;
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'InvalidRunConfig') throw err.cause;
    throw err;
  }
}

function parsedInWorkflow(input: RunConfigInput | undefined): RunConfig {
  try {
    return parseRunConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidRunConfig', { issues: err.issues });
    throw err;
  }
}
