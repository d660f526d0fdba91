import { ActivityFailure, ApplicationFailure, patched, proxyLocalActivities } from '@temporalio/workflow';
import type * as runConfigActivities from '../activities/run-config';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import { ConfigError, parseRunConfig } from '../lib/config/validate';

const local = proxyLocalActivities<typeof runConfigActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 3 } });

/**
 * The workflow's run configuration, validated by the same schema as the CLI and the client, with
 * its defaults resolved once before the workflow's first command and recorded in its history (a
 * local activity's marker). Input from the Temporal UI arrives unchecked: a bad field fails the
 * workflow at once, not retryable, naming it. Executions started before the patch parse in the
 * workflow, as they did when they were recorded.
 */
export async function resolvedRunConfig(input: RunConfigInput | undefined): Promise<RunConfig> {
  if (!patched('run-config-resolved-once')) return parsedInWorkflow(input);
  try {
    return await local.resolveRunConfig(input);
  } catch (err) {
    // Fail with the validation failure itself, as the in-workflow parse did, not an activity failure around it.
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
