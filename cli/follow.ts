import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `refresh` every `intervalMs` until `result` settles (or `interrupted` rejects), then
 * returns `result`. What the CLI does while it follows a run.
 */
export async function refreshUntilSettled<T>(result: Promise<T>, intervalMs: number, refresh: () => Promise<void>, interrupted?: Promise<never>): Promise<T> {
  let settled = false;
  const done = result.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await refresh();
    await Promise.race([sleep(intervalMs), done, ...(interrupted ? [interrupted] : [])]);
  }
  return result;
}
