import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * The worker heartbeats for every activity that has a heartbeat timeout, for as long as the
 * activity runs, so that a worker that dies (SIGKILL, a lost machine) is noticed within that
 * timeout whatever the activity was doing: a bookkeeping read, a LanceDB compaction, a trainer
 * between events. Without it an activity handed to a dying worker is only retried after its
 * start-to-close timeout, which must be sized for the longest run of its work (hours).
 *
 * An activity that heartbeats details of its own (a trainer's checkpoint, a search's progress)
 * keeps doing so: the worker re-sends the latest details, never blanks them, because the server
 * keeps only the last heartbeat's details and a retry resumes from them. Before the activity's
 * first heartbeat the worker re-sends the previous attempt's details for the same reason.
 *
 * What this cannot catch is a live worker whose activity is stuck: its start-to-close timeout
 * still bounds that.
 */
/** At least this often, whatever the heartbeat timeout. */
const LIVENESS_INTERVAL_MS = 5_000;

export const livenessHeartbeat: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const timeoutMs = ctx.info.heartbeatTimeoutMs;
      if (!timeoutMs) return next(input);
      const send = ctx.heartbeat;
      let details: unknown = ctx.info.heartbeatDetails;
      // `heartbeat` is a per-context function property: wrapping it sees every beat the activity sends.
      Object.defineProperty(ctx, 'heartbeat', {
        value: (beat?: unknown) => {
          details = beat;
          send(beat);
        },
      });
      // The SDK throttles what reaches the server (to 80% of the timeout at most; GPU workers send
      // every 5 s, workers/worker.ts), so beating often here costs nothing. A beat's reply is also
      // how a cancellation reaches the activity: a trainer that prints nothing for a minute still
      // hears its cancel within seconds.
      const timer = setInterval(() => send(details), Math.max(100, Math.min(LIVENESS_INTERVAL_MS, timeoutMs / 4)));
      send(details);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
