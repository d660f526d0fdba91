// `npm run bench:train`: what the Temporal hand-off costs a trainer, measured side by side.
//  - activity_vs_direct_ratio: steady-state pretrain steps/s of the reference trainer under the
//    runTrainer activity (real dev server, in-process sept-gpu worker) over the same run directly.
//  - checkpoint_overhead: share of training time spent writing checkpoints at the default interval:
//    the trainer's measured write time against the interval's measured step time.
//  - steps_redone_per_kill: training steps done twice after SIGKILLing the trainer at a random
//    moment and letting the activity retry from the newest checkpoint.
//  - ddp_speedup_2proc: steady-state images/s of the same pre-training (same global batch) in 2
//    data-parallel processes of 1 thread each (trainer.processesPerNode: 2) over 1 process of 1
//    thread, both run directly. BENCH_TRAIN_ONLY=ddp measures only this, without a Temporal server,
//    and prints its figures without writing docs/benchmarks.md.
//  - loader_images_per_s_224: images/s of one loader worker (one process, one thread) decoding and
//    augmenting 224x224 JPEGs (trainer/bench/throughput.py --loader-only, which says what a GPU needs).
//  - trainer_first_step_s_*, trainer_job_cpu_s_*: a one-step pre-training of the reference trainer
//    started on its own and forked from the worker's forkserver (lib/trainer/forkserver.ts), 5
//    of each, interleaved: seconds from start to its first step, and CPU seconds of the whole job
//    (its process and, forked, the forkserver's child). BENCH_TRAIN_ONLY=start measures only these.
// The last line printed is one JSON object with the figures.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunConfigInput } from '../lib/config/schema';
import { parseRunConfig } from '../lib/config/validate';
import { demoShards } from '../lib/demo/materialize';
import { dataDir, projectRoot } from '../lib/paths';
import { RunLayout } from '../lib/run-layout';
import { CPU_QUEUE } from '../lib/temporal/queues';
import { latestCheckpoint } from '../lib/trainer/checkpoints';
import { referenceTrainerCommand } from '../lib/trainer/command';
import { dataParallelCommand } from '../lib/trainer/data-parallel';
import { FORKSERVER_SOCKET_ENV, throughForkserver } from '../lib/trainer/forkserver';
import { runTrainerProcess } from '../lib/trainer/process';
import { trainerStageConfig } from '../lib/trainer/stage-config';
import { forkedTrainerJobs, parentPid, pidsMatching } from '../test/support/processes';
import { startTestTemporal, withWorkers } from '../test/support/temporal';
import type { trainModel } from '../workflows/train-model';
import { recordBenchmark } from './record';

const STEPS = Number(process.env.BENCH_TRAIN_STEPS ?? 120);
/** Direct and activity runs, interleaved. */
const PAIRS = Number(process.env.BENCH_TRAIN_PAIRS ?? 5);
const BATCH = 128;
const ONLY = process.env.BENCH_TRAIN_ONLY;
const DEFAULT_INTERVAL = parseRunConfig({ demo: true }).trainer.checkpointEverySteps;
// Under the data dir: where a worker lets runs read and write (lib/storage/access.ts).
mkdirSync(join(dataDir(), 'tmp'), { recursive: true });
const work = mkdtempSync(join(dataDir(), 'tmp', 'septflow-bench-train-'));
/** The folder of a run's pretrain job, direct or orchestrated alike. */
const pretrainJob = (name: string) => new RunLayout(work, name).trainerJob('main', 'pretrain');

async function runConfig(name: string, overrides: Partial<RunConfigInput> = {}): Promise<RunConfigInput> {
  return {
    name,
    outputDir: work,
    pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: (await demoShards('mnist', 'train')).slice(0, 3) }] },
    target: { labelsPerClass: 5 },
    pretrain: { steps: STEPS, batchSize: BATCH },
    finetune: { epochs: 1, batchSize: 25 },
    ...overrides,
    // One torch thread: on this 2-core machine two threads stall whenever anything else runs (the
    // Temporal server, the worker), which would measure the machine's contention, not the hand-off.
    trainer: { heartbeatTimeout: '1m', maxAttempts: 5, threads: 1, ...overrides.trainer },
  };
}

interface TimedEvent {
  event: string;
  step?: number;
  write_seconds?: number;
  at: number;
}

/** Steps per second between the first and the last progress event: steady state, startup excluded. */
function steadyStepsPerSecond(events: TimedEvent[]): number {
  const progress = events.filter((e) => e.event === 'progress');
  const first = progress[0];
  const last = progress.at(-1)!;
  return (last.step! - first.step!) / ((last.at - first.at) / 1000);
}

interface CpuSample {
  at: number;
  /** CPU seconds the trainer process has used (user + system). */
  trainer: number;
  /** Busy and total jiffies of the whole machine, from /proc/stat. */
  busy: number;
  total: number;
}

/** user + system CPU seconds of a process (Linux, USER_HZ = 100), or undefined once it is gone. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

function machineJiffies(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3] - cpu[4], total };
}

/**
 * Samples, every 200 ms, the CPU time of the trainer whose command line names `configFragment`, and
 * the machine's: whether a slower run computed less (it waited for a core) or computed more. A job
 * of a worker's forkserver trains in the forkserver's child: its CPU is counted with its process's
 * (one job runs at a time here).
 */
function sampleCpu(configFragment: string): () => CpuSample[] {
  const samples: CpuSample[] = [];
  let pid: number | undefined;
  const timer = setInterval(() => {
    pid ??= pidsMatching(configFragment)[0];
    const own = pid === undefined ? undefined : processCpuSeconds(pid);
    const trainer = own === undefined ? undefined : own + forkedTrainerJobs().reduce((sum, job) => sum + (processCpuSeconds(job) ?? 0), 0);
    if (trainer !== undefined) samples.push({ at: Date.now(), trainer, ...machineJiffies() });
  }, 200);
  return () => {
    clearInterval(timer);
    return samples;
  };
}

/** Over the steady window (first to last progress event): the trainer's CPU seconds per wall second, and the machine's busy share. */
function cpuShares(samples: CpuSample[], events: TimedEvent[]): { trainer: number; machine: number } {
  const progress = events.filter((e) => e.event === 'progress');
  const inside = samples.filter((c) => c.at >= progress[0].at && c.at <= progress.at(-1)!.at);
  const [a, b] = [inside[0], inside.at(-1)!];
  return { trainer: (b.trainer - a.trainer) / ((b.at - a.at) / 1000), machine: (b.busy - a.busy) / (b.total - a.total) };
}

/** A direct pretrain run (no Temporal) in `processes` data-parallel processes, with its events timestamped as the activity does. */
async function directPretrain(name: string, processes = 1): Promise<TimedEvent[]> {
  const config = parseRunConfig(await runConfig(name, { trainer: { processesPerNode: processes } }));
  const job = pretrainJob(name);
  mkdirSync(job.dir, { recursive: true });
  const file = job.config('pretrain');
  writeFileSync(file, JSON.stringify(trainerStageConfig(config, 'pretrain', job, { trainShards: (await demoShards('mnist', 'train')).slice(0, 3), numClasses: 10 })));
  const trainer = dataParallelCommand(referenceTrainerCommand(), processes, 30);
  const events: TimedEvent[] = [];
  const outcome = await runTrainerProcess({ command: trainer.command, env: trainer.env, stage: 'pretrain', configFile: file, onEvent: (e) => events.push({ ...e, at: Date.now() }) });
  if (outcome.exitCode !== 0) throw new Error(`direct trainer failed: ${outcome.stderrTail.join('\n')}`);
  return events;
}

/** The events the runTrainer activity recorded for a run's pretrain job. */
function activityEvents(name: string): TimedEvent[] {
  return readFileSync(pretrainJob(name).events, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as TimedEvent);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `a` and `b` PAIRS times in ABBA order, so that a drift of the machine's speed during the benchmark favours neither; `after` reports each pair. */
async function interleaved(a: (i: number) => Promise<void>, b: (i: number) => Promise<void>, after: (i: number) => void): Promise<void> {
  for (let i = 0; i < PAIRS; i++) {
    for (const run of i % 2 === 0 ? [a, b] : [b, a]) await run(i);
    after(i);
  }
}

/** Steady-state images/s of the same direct pre-training in 1 process and in 2 data-parallel processes, 1 thread each. */
async function dataParallelSpeedup() {
  const rate = async (name: string, processes: number) => steadyStepsPerSecond(await directPretrain(name, processes)) * BATCH;
  const one: number[] = [];
  const two: number[] = [];
  await interleaved(
    async (i) => void one.push(await rate(`ddp-1proc-${i}`, 1)),
    async (i) => void two.push(await rate(`ddp-2proc-${i}`, 2)),
    (i) => console.error(`[bench:train] ddp pair ${i}: 1 process ${one[i].toFixed(1)} images/s, 2 processes ${two[i].toFixed(1)} images/s`),
  );
  return {
    ddp_images_per_s_1proc: median(one),
    ddp_images_per_s_2proc: median(two),
    ddp_speedup_2proc: median(two) / median(one),
    ddp_pair_ratios: two.map((t, i) => Math.round((t / one[i]) * 1000) / 1000),
  };
}

/** The trainer's own measurement of one loader worker at 224x224 (the last line of throughput.py is its JSON). */
function loaderImagesPerSecond224(): number {
  const script = join(projectRoot, 'trainer', 'bench', 'throughput.py');
  const out = execFileSync(referenceTrainerCommand().command[0], [script, '--loader-only'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)!).loader_images_per_s_224;
}

/** CPU seconds (user + system) of the children `pid` has reaped (Linux /proc, USER_HZ = 100). */
function reapedChildrenCpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** A one-step pre-training started on its own and forked from this process's forkserver, interleaved. */
async function trainerStartCost() {
  const reference = referenceTrainerCommand();
  const forked = await throughForkserver(reference);
  if (!forked.env[FORKSERVER_SOCKET_ENV]) throw new Error('the trainer forkserver did not start (its log lines are at debug level: LOG_LEVEL=debug)');
  const forkserver = pidsMatching('septtrainer.forkserver').find((pid) => parentPid(pid) === process.pid)!;
  const shards = (await demoShards('mnist', 'train')).slice(0, 1);
  // A job's CPU: this process reaps its process; the forkserver reaps its child.
  const cpu = () => reapedChildrenCpuSeconds('self') + reapedChildrenCpuSeconds(forkserver);
  const run = async (trainer: typeof reference, name: string) => {
    const configFile = join(work, `${name}.json`);
    writeFileSync(configFile, JSON.stringify({ threads: 1, train_shards: shards, batch_size: 32, output_dir: join(work, name), max_steps: 1, log_every_steps: 1 }));
    const [cpuBefore, started] = [cpu(), Date.now()];
    let firstStep: number | undefined;
    const outcome = await runTrainerProcess({ ...trainer, stage: 'pretrain', configFile, onEvent: (e) => void (e.event === 'progress' && (firstStep ??= Date.now())) });
    if (outcome.exitCode !== 0) throw new Error(`${name} exited ${outcome.exitCode}: ${outcome.stderrTail.join('\n')}`);
    return { firstStep: (firstStep! - started) / 1000, cpu: cpu() - cpuBefore };
  };
  const alone: { firstStep: number; cpu: number }[] = [];
  const fromForkserver: { firstStep: number; cpu: number }[] = [];
  for (let i = 0; i < 5; i++) {
    alone.push(await run(reference, `start-alone-${i}`));
    fromForkserver.push(await run(forked, `start-forked-${i}`));
    console.error(`[bench:train] start ${i}: alone ${alone[i].firstStep.toFixed(2)} s to the first step, ${alone[i].cpu.toFixed(2)} CPU-s; forked ${fromForkserver[i].firstStep.toFixed(2)} s, ${fromForkserver[i].cpu.toFixed(2)} CPU-s`);
  }
  const seconds = (xs: number[]) => Math.round(median(xs) * 1000) / 1000;
  return {
    trainer_first_step_s_alone: seconds(alone.map((r) => r.firstStep)),
    trainer_first_step_s_forked: seconds(fromForkserver.map((r) => r.firstStep)),
    trainer_job_cpu_s_alone: seconds(alone.map((r) => r.cpu)),
    trainer_job_cpu_s_forked: seconds(fromForkserver.map((r) => r.cpu)),
  };
}

async function main(): Promise<void> {
  if (ONLY === 'ddp' || ONLY === 'start') {
    try {
      const figures = ONLY === 'ddp' ? { steps: STEPS, batch_size: BATCH, ...(await dataParallelSpeedup()) } : await trainerStartCost();
      console.log(JSON.stringify(figures));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return;
  }
  const temporal = await startTestTemporal();
  try {
    // Interleave direct and orchestrated runs so drift on a shared machine hits both alike.
    const direct: number[] = [];
    const orchestrated: number[] = [];
    const directCpu: { trainer: number; machine: number }[] = [];
    const orchestratedCpu: { trainer: number; machine: number }[] = [];
    const writeSeconds: number[] = [];
    const runDirect = async (i: number) => {
      const samples = sampleCpu(pretrainJob(`direct-${i}`).config('pretrain'));
      const events = await directPretrain(`direct-${i}`);
      directCpu.push(cpuShares(samples(), events));
      direct.push(steadyStepsPerSecond(events));
      writeSeconds.push(...events.filter((e) => e.event === 'checkpoint').map((e) => e.write_seconds!));
    };
    const runActivity = async (i: number) => {
      const samples = sampleCpu(pretrainJob(`orchestrated-${i}`).config('pretrain'));
      await withWorkers(temporal, async () =>
        (await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: `bench/orchestrated-${i}`, args: [await runConfig(`orchestrated-${i}`)] })).result(),
      );
      const activity = activityEvents(`orchestrated-${i}`);
      orchestratedCpu.push(cpuShares(samples(), activity));
      orchestrated.push(steadyStepsPerSecond(activity));
    };
    await interleaved(runDirect, runActivity, (i) =>
      console.error(
        `[bench:train] pair ${i}: direct ${direct[i].toFixed(3)} steps/s (trainer CPU ${directCpu[i].trainer.toFixed(2)}, machine busy ${directCpu[i].machine.toFixed(2)}), ` +
          `activity ${orchestrated[i].toFixed(3)} (trainer CPU ${orchestratedCpu[i].trainer.toFixed(2)}, machine busy ${orchestratedCpu[i].machine.toFixed(2)})`,
      ),
    );
    const perStep = 1 / median(direct);
    const perCheckpoint = median(writeSeconds);
    const checkpointOverhead = perCheckpoint / (perCheckpoint + DEFAULT_INTERVAL * perStep);

    // Kill the trainer at random moments; count the steps the retry does again: those since the
    // newest checkpoint at the kill (estimated from its file time and the measured step time), plus
    // any checkpoint the retry skipped (it should resume from exactly that newest one).
    const interval = 20;
    const redone: number[] = [];
    for (let i = 0; i < 3; i++) {
      const config = await runConfig(`kill-${i}`, { trainer: { checkpointEverySteps: interval } });
      const checkpoints = pretrainJob(`kill-${i}`).checkpoints;
      const { result, newest, secondsSinceNewest } = await withWorkers(temporal, async () => {
        const handle = await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: `bench/kill-${i}`, args: [config] });
        while (!(await latestCheckpoint(checkpoints))) await sleep(50);
        await sleep(500 + Math.random() * 3000);
        const pids = pidsMatching(pretrainJob(`kill-${i}`).config('pretrain'));
        if (pids.length !== 1) throw new Error(`expected one pretrain trainer to kill, found ${pids.length}: lower the wait or raise BENCH_TRAIN_STEPS`);
        process.kill(pids[0], 'SIGKILL');
        const killedAt = Date.now();
        const newestAtKill = (await latestCheckpoint(checkpoints))!;
        // Read its time now: the retry's checkpoints rotate it away.
        const sinceNewest = (killedAt - statSync(newestAtKill.path).mtimeMs) / 1000;
        return { result: await handle.result(), newest: newestAtKill, secondsSinceNewest: sinceNewest };
      });
      const resumed = result.progress.jobs.pretrain.resumedFromStep;
      redone.push(newest.step - resumed + Math.min(interval, secondsSinceNewest / perStep));
    }

    const figures = {
      steps: STEPS,
      batch_size: BATCH,
      direct_steps_per_s: median(direct),
      activity_steps_per_s: median(orchestrated),
      activity_vs_direct_ratio: median(orchestrated) / median(direct),
      pair_ratios: orchestrated.map((o, i) => Math.round((o / direct[i]) * 1000) / 1000),
      // CPU seconds per wall second of the trainer process over the steady window, and the
      // machine's busy share then: the same trainer CPU with fewer steps/s means it waited.
      direct_trainer_cpu_share: median(directCpu.map((c) => c.trainer)),
      activity_trainer_cpu_share: median(orchestratedCpu.map((c) => c.trainer)),
      direct_machine_busy_share: median(directCpu.map((c) => c.machine)),
      activity_machine_busy_share: median(orchestratedCpu.map((c) => c.machine)),
      default_checkpoint_interval: DEFAULT_INTERVAL,
      seconds_per_checkpoint: perCheckpoint,
      checkpoint_overhead: checkpointOverhead,
      kill_checkpoint_interval: interval,
      steps_redone_per_kill: redone.reduce((a, b) => a + b, 0) / redone.length,
      loader_images_per_s_224: loaderImagesPerSecond224(),
      ...(await dataParallelSpeedup()),
      ...(await trainerStartCost()),
    };
    recordBenchmark('train', figures);
  } finally {
    await temporal.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
