/**
 * Input that no retry can fix: an empty target set, k or the budget out of range, vectors of two
 * encoders or dimensions. Activities turn it into a non-retryable failure that keeps the message.
 */
export class RetrievalInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetrievalInputError';
  }
}
