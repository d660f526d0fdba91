// `npm run bench:train`: what the Temporal hand-off costs a trainer, measured side by side.
//  - activity_vs_direct_ratio: pretrain steps/s of the reference trainer under the runTrainer
//    activity (real dev server, in-process sept-gpu worker) over steps/s of the same run directly.
//  - checkpoint_overhead: share of training time spent checkpointing at the default interval,
//    from two direct runs that differ only in checkpoint frequency.
//  - steps_redone_per_kill: training steps done twice after SIGKILLing the trainer at a random
//    moment and letting the activity retry from the newest checkpoint.
// The last line printed is one JSON object with the figures.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunConfigInput } from '../lib/config/schema';
import { parseRunConfig } from '../lib/config/validate';
import { demoShards } from '../lib/demo/materialize';
import { CPU_QUEUE } from '../lib/temporal/queues';
import { latestCheckpoint } from '../lib/trainer/checkpoints';
import { referenceTrainerCommand } from '../lib/trainer/command';
import { runTrainerProcess } from '../lib/trainer/process';
import { trainerStageConfig } from '../lib/trainer/stage-config';
import { pidsMatching } from '../test/support/processes';
import { startTestTemporal, withWorkers } from '../test/support/temporal';
import type { TrainModelResult } from '../workflows/train-model';

const STEPS = Number(process.env.BENCH_TRAIN_STEPS ?? 120);
const BATCH = 128;
const DEFAULT_INTERVAL = parseRunConfig({}).trainer.checkpointEverySteps;
const work = mkdtempSync(join(tmpdir(), 'septflow-bench-train-'));

async function runConfig(name: string, overrides: RunConfigInput = {}): Promise<RunConfigInput> {
  return {
    name,
    outputDir: work,
    pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: (await demoShards('mnist', 'train')).slice(0, 3) }] },
    target: { labelsPerClass: 5 },
    pretrain: { steps: STEPS, batchSize: BATCH },
    finetune: { epochs: 1, batchSize: 25 },
    ...overrides,
    trainer: { heartbeatTimeout: '1m', maxAttempts: 5, ...overrides.trainer },
  };
}

/** A direct pretrain run (no Temporal): wall seconds from spawn to exit. */
async function directPretrain(name: string, checkpointEvery: number): Promise<number> {
  const config = parseRunConfig(await runConfig(name, { trainer: { checkpointEverySteps: checkpointEvery } }));
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const trainConfig = trainerStageConfig(config, 'pretrain', dir, {
    trainShards: (await demoShards('mnist', 'train')).slice(0, 3),
    numClasses: 10,
  });
  const file = join(dir, 'pretrain.config.json');
  writeFileSync(file, JSON.stringify(trainConfig));
  const trainer = referenceTrainerCommand();
  const started = performance.now();
  const outcome = await runTrainerProcess({ command: trainer.command, env: trainer.env, stage: 'pretrain', configFile: file });
  if (outcome.exitCode !== 0) throw new Error(`direct trainer failed: ${outcome.stderrTail.join('\n')}`);
  return (performance.now() - started) / 1000;
}

/** Wall seconds of the pretrain activity's last attempt, from the workflow history. */
async function activitySeconds(temporal: Awaited<ReturnType<typeof startTestTemporal>>, workflowId: string): Promise<number> {
  const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTrainer')!;
  const startedEvent = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  const ms = (t: typeof startedEvent.eventTime) => Number(t!.seconds) * 1000 + Math.floor((t!.nanos ?? 0) / 1e6);
  return (ms(completed.eventTime) - ms(startedEvent.eventTime)) / 1000;
}

async function main(): Promise<void> {
  const temporal = await startTestTemporal();
  try {
    // Interleave direct and orchestrated runs so drift on a shared machine hits both alike.
    const direct: number[] = [];
    const orchestrated: number[] = [];
    for (let i = 0; i < 2; i++) {
      direct.push(await directPretrain(`direct-${i}`, DEFAULT_INTERVAL));
      const workflowId = `bench/orchestrated-${i}`;
      await withWorkers(temporal, async () =>
        (await temporal.client.workflow.start('trainModel', { taskQueue: CPU_QUEUE, workflowId, args: [await runConfig(`orchestrated-${i}`)] })).result(),
      );
      orchestrated.push(await activitySeconds(temporal, workflowId));
    }
    const best = (xs: number[]) => Math.min(...xs);
    const activityVsDirect = best(direct) / best(orchestrated);

    // Checkpoint cost: every 10 steps against only at the end; scaled to the default interval.
    const frequentEvery = 10;
    const tFrequent = await directPretrain('ckpt-frequent', frequentEvery);
    const tRare = await directPretrain('ckpt-rare', STEPS);
    const perCheckpoint = Math.max(0, (tFrequent - tRare) / (STEPS / frequentEvery - 1));
    const perStep = tRare / STEPS;
    const checkpointOverhead = perCheckpoint / (perCheckpoint + DEFAULT_INTERVAL * perStep);

    // Kill the trainer at random moments; count the steps the retry does again: those since the
    // newest checkpoint at the kill (estimated from its file time and the measured step time), plus
    // any checkpoint the retry skipped (it should resume from exactly that newest one).
    const interval = 20;
    const redone: number[] = [];
    for (let i = 0; i < 3; i++) {
      const config = await runConfig(`kill-${i}`, { trainer: { checkpointEverySteps: interval } });
      const checkpoints = join(work, `kill-${i}`, 'train', 'main', 'pretrain', 'checkpoints');
      const { result, newest, secondsSinceNewest } = await withWorkers(temporal, async () => {
        const handle = await temporal.client.workflow.start('trainModel', { taskQueue: CPU_QUEUE, workflowId: `bench/kill-${i}`, args: [config] });
        while (!(await latestCheckpoint(checkpoints))) await sleep(50);
        await sleep(500 + Math.random() * 3000);
        const pids = pidsMatching(join(`kill-${i}`, 'train', 'main', 'pretrain', 'pretrain.config.json'));
        if (pids.length !== 1) throw new Error(`expected one pretrain trainer to kill, found ${pids.length}: lower the wait or raise BENCH_TRAIN_STEPS`);
        process.kill(pids[0], 'SIGKILL');
        const killedAt = Date.now();
        const newestAtKill = (await latestCheckpoint(checkpoints))!;
        // Read its time now: the retry's checkpoints rotate it away.
        const sinceNewest = (killedAt - statSync(newestAtKill.path).mtimeMs) / 1000;
        return { result: (await handle.result()) as TrainModelResult, newest: newestAtKill, secondsSinceNewest: sinceNewest };
      });
      const resumed = result.progress.jobs.pretrain.resumedFromStep;
      redone.push(newest.step - resumed + Math.min(interval, secondsSinceNewest / perStep));
    }

    const figures = {
      steps: STEPS,
      batch_size: BATCH,
      direct_steps_per_s: STEPS / best(direct),
      activity_steps_per_s: STEPS / best(orchestrated),
      activity_vs_direct_ratio: activityVsDirect,
      default_checkpoint_interval: DEFAULT_INTERVAL,
      seconds_per_checkpoint: perCheckpoint,
      checkpoint_overhead: checkpointOverhead,
      kill_checkpoint_interval: interval,
      steps_redone_per_kill: redone.reduce((a, b) => a + b, 0) / redone.length,
    };
    console.log(JSON.stringify(figures));
  } finally {
    await temporal.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
