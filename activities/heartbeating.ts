import { Context, heartbeat } from '@temporalio/activity';

/**
 * Runs one long call that reports no progress of its own (a LanceDB compaction) while
 * heartbeating, when the activity has a heartbeat timeout: a worker that dies during it is then
 * noticed within that timeout and the retry runs elsewhere, instead of after the start-to-close.
 */
export async function whileHeartbeating<T>(work: () => Promise<T>): Promise<T> {
  const { heartbeatTimeoutMs } = Context.current().info;
  if (!heartbeatTimeoutMs) return work();
  heartbeat();
  const timer = setInterval(() => heartbeat(), Math.max(200, heartbeatTimeoutMs / 3));
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
