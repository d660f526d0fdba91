import { ApplicationFailure } from '@temporalio/activity';
import { ConfigError } from '../lib/config/validate';
import { EncoderError } from '../lib/encoder/errors';
import { SourceError } from '../lib/sources/shard-ref';
import { ObjectStoreError } from '../lib/storage/object-store';
import { ShardFormatError } from '../lib/webdataset/reader';

/** Errors that no retry can fix: bad configuration or bad input data. */
const PERMANENT = [ConfigError, SourceError, ShardFormatError];

/**
 * Runs an activity body, turning permanent errors into non-retryable failures that keep their
 * message. Encoder errors are systemic (every shard would fail alike): their type names the problem.
 */
export async function failFastOnBadInput<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof EncoderError) throw ApplicationFailure.nonRetryable(err.message, `Encoder:${err.problem}`);
    // An unreachable store is retried like any error; a misconfigured one cannot get better.
    if (err instanceof ObjectStoreError && !err.retryable) throw ApplicationFailure.nonRetryable(err.message, 'ObjectStoreMisconfigured');
    const permanent = PERMANENT.find((type) => err instanceof type);
    if (permanent) throw ApplicationFailure.nonRetryable((err as Error).message, permanent.name);
    throw err;
  }
}
