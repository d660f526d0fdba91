import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { ConfigError } from '../lib/config/validate';
import { EncoderError } from '../lib/encoder/errors';
import { FileRefusedError } from '../lib/files/regular-file';
import { RetrievalInputError } from '../lib/retrieval/errors';
import { SourceError } from '../lib/sources/shard-ref';
import { ObjectStoreError } from '../lib/object-store';
import { TrainerJobError } from '../lib/trainer/job-error';
import { ShardFormatError } from '../lib/webdataset/reader';

/** Errors that no retry can fix: bad configuration or bad input data. */
const PERMANENT = [ConfigError, SourceError, ShardFormatError, RetrievalInputError, FileRefusedError];

/** How a trainer job's end reaches the workflow; only an invalid configuration is final. */
function trainerFailure(err: TrainerJobError): Error {
  switch (err.type) {
    case 'InvalidTrainerConfig':
      return ApplicationFailure.nonRetryable(err.message, err.type, err.detail);
    case 'TrainerFailed':
      return ApplicationFailure.retryable(err.message, err.type, err.detail);
    case 'WorkerShutdown':
      // The worker is going away, not the run: a retryable failure (not a cancel) sends the next
      // attempt to another worker, which resumes from the checkpoint just written.
      return ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: false, details: [err.detail], category: ApplicationFailureCategory.BENIGN });
    case 'Cancelled':
      return new CancelledFailure(err.message);
  }
}

/**
 * Runs an activity body, turning the domain's errors into the failures Temporal retries or not:
 * permanent errors become non-retryable failures that keep their message. Encoder errors are
 * systemic (every shard would fail alike): their type names the problem.
 */
export async function failFastOnBadInput<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof TrainerJobError) throw trainerFailure(err);
    if (err instanceof EncoderError) throw ApplicationFailure.nonRetryable(err.message, `Encoder:${err.problem}`);
    // An unreachable store is retried like any error; a misconfigured one cannot get better.
    if (err instanceof ObjectStoreError && !err.retryable) throw ApplicationFailure.nonRetryable(err.message, 'ObjectStoreMisconfigured');
    const permanent = PERMANENT.find((type) => err instanceof type);
    if (permanent) throw ApplicationFailure.nonRetryable((err as Error).message, permanent.name);
    throw err;
  }
}
