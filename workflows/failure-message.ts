// Workflow interceptors (registered by the workers, not a workflow): a workflow that fails because an
// activity or a child workflow failed says why in its own failure message, where the Temporal UI
// shows it, instead of "Activity task failed".
import { ActivityFailure, ChildWorkflowFailure, isCancellation, patched, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { retold } from '../lib/temporal/failure-chain';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          // A workflow's own failures (refusals, an empty subset) say why already; a cancellation is no failure.
          // Executions that failed before the patch replay with the failure they recorded.
          if ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && !isCancellation(err) && patched('failure-chain-message')) throw retold(err);
          throw err;
        }
      },
    },
  ],
});
