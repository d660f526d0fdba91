/** What makes an encoder unusable; every kind is systemic, so no retry can fix it. */
export type EncoderProblem = 'model-missing' | 'model-invalid' | 'shape-mismatch' | 'model-changed';

/** A systemic encoder error: every shard would fail the same way, so the run fails fast (not retryable). */
export class EncoderError extends Error {
  constructor(
    readonly problem: EncoderProblem,
    message: string,
  ) {
    super(message);
    this.name = 'EncoderError';
  }
}
