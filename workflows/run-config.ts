import { ApplicationFailure } from '@temporalio/workflow';
import { ConfigError, parseRunConfig } from '../lib/config/validate';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';

/**
 * Validates a workflow's input with the same schema as the CLI and the client. Input from the
 * Temporal UI arrives unchecked: a bad field fails the workflow at once, not retryable, naming it.
 */
export function runConfigOrFail(input: RunConfigInput | undefined): RunConfig {
  try {
    return parseRunConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidRunConfig', { issues: err.issues });
    throw err;
  }
}
