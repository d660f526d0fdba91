// The processes `npm run bench:scale` measures: worker processes and bench/scale-direct.ts runs,
// each watched from outside through /proc, so that a stage that holds its event loop (a merge in
// one synchronous loop) is sampled all the same.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DirectJob, DirectResult } from './scale-direct';

const SAMPLE_MS = 50;

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    // The process has exited.
    return undefined;
  }
}

/** A process's resident memory sampled every 50 ms, so that the peak of any stretch of its life can be read afterwards. */
export class RssSampler {
  private readonly samples: { t: number; kb: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  private hwmKb = 0;

  constructor(private readonly pid: number) {
    const sample = () => {
      const kb = statusKb(pid, 'VmRSS');
      if (kb !== undefined) this.samples.push({ t: Date.now(), kb });
      this.hwmKb = Math.max(this.hwmKb, statusKb(pid, 'VmHWM') ?? 0);
    };
    sample();
    this.timer = setInterval(sample, SAMPLE_MS);
  }

  /** Peak RSS in MiB between two times (ms since the epoch), a sample's interval either side included. */
  peakMbBetween(startMs: number, endMs: number): number {
    const inside = this.samples.filter((s) => s.t >= startMs - SAMPLE_MS && s.t <= endMs + SAMPLE_MS);
    return inside.reduce((max, s) => Math.max(max, s.kb), 0) / 1024;
  }

  /** The kernel's high-water mark of the whole process so far, MiB (read before the process exits). */
  highWaterMb(): number {
    return Math.max(this.hwmKb, statusKb(this.pid, 'VmHWM') ?? 0) / 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Runs one job of bench/scale-direct.ts in a fresh process; returns its stages with the process's RSS sampler (stopped). */
export async function runDirect(job: DirectJob, dir: string, name: string): Promise<{ result: DirectResult; rss: RssSampler }> {
  const file = join(dir, `direct-${name}.json`);
  writeFileSync(file, JSON.stringify(job));
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'scale-direct.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rss = new RssSampler(child.pid!);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  try {
    const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
    if (code !== 0) throw new Error(`bench/scale-direct.ts (${job.kind}) exited with ${code}`);
    return { result: JSON.parse(out.trim().split('\n').at(-1)!) as DirectResult, rss };
  } finally {
    rss.stop();
  }
}
