import { readdirSync, readFileSync } from 'node:fs';

/** Pids of processes whose command line contains `fragment` (Linux /proc). */
export function pidsMatching(fragment: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(fragment);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The parent of `pid`, or undefined once it is gone. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Pids of the jobs running in a trainer forkserver's children (trainer/septtrainer/forkserver.py): they keep its command line. */
export function forkedTrainerJobs(): number[] {
  const forkservers = new Set(pidsMatching('septtrainer.forkserver'));
  return [...forkservers].filter((pid) => forkservers.has(parentPid(pid)!));
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
