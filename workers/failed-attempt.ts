import { CompleteAsyncError } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withFailedAttempt } from '../lib/temporal/failure-chain';

/**
 * Every activity failure carries the attempt that failed (its last detail), so that a workflow
 * failing on it names the attempt in its own failure message (workflows/failure-message.ts): the
 * history records it, but a workflow cannot read its history. A cancelled activity's error passes
 * as it is: the SDK tells a cancellation by the error's kind.
 */
export const failedAttempt: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        if (ctx.cancellationSignal.aborted || err instanceof CompleteAsyncError) throw err;
        throw withFailedAttempt(err, ctx.info.attempt);
      }
    },
  },
});
