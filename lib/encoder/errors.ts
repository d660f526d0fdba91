/**
 * What makes an encoder unusable; every kind is systemic, so no retry can fix it.
 * `device-unavailable`: `encoder.device: cuda` on a worker without a GPU or without onnxruntime's CUDA provider.
 */
export type EncoderProblem = 'model-missing' | 'model-invalid' | 'shape-mismatch' | 'model-changed' | 'device-unavailable';

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
