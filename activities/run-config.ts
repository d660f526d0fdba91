import { ApplicationFailure } from '@temporalio/activity';
import type { RunConfig } from '../lib/config/schema';
import { ConfigError, parseRunConfig } from '../lib/config/validate';
import { resolveEncoderSettings } from '../lib/encoder/exported';

/**
 * A run's configuration with every default filled in, and a configured model's settings from the
 * encoder.json beside it (lib/encoder/exported.ts), computed once (an activity, its result recorded in
 * the workflow's history) so that a later change of a default in the schema cannot change what a
 * running workflow does when it replays. Invalid input fails at once, not retryable, naming each field.
 */
export async function resolveRunConfig(input: unknown): Promise<RunConfig> {
  try {
    const config = parseRunConfig(input);
    return { ...config, encoder: await resolveEncoderSettings(config.encoder) };
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidRunConfig', { issues: err.issues });
    throw err;
  }
}
