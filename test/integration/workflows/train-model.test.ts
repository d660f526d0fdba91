import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { getSeptRun } from '../../../lib/client';
import type { RunConfigInput } from '../../../lib/config/schema';
import { demoShards } from '../../../lib/demo/materialize';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { latestCheckpoint } from '../../../lib/trainer/checkpoints';
import type { trainModel } from '../../../workflows/train-model';
import { overrideEnv } from '../../support/env';
import { pidsMatching, waitFor } from '../../support/processes';
import { type TestTemporal, useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

/** A small but real run: SimCLR on two MNIST shards, 5 labels per class, evaluated on MNIST test. */
async function smallRun(name: string, overrides: Partial<RunConfigInput> = {}): Promise<RunConfigInput> {
  const poolShards = (await demoShards('mnist', 'train')).slice(0, 2);
  return {
    name,
    outputDir: tempDir(),
    pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: poolShards }] },
    target: { labelsPerClass: 5 },
    pretrain: { steps: 40, batchSize: 32 },
    finetune: { epochs: 20, batchSize: 25 },
    ...overrides,
    trainer: { checkpointEverySteps: 5, heartbeatTimeout: '30s', maxAttempts: 3, threads: 1, ...overrides.trainer },
  };
}

/** Attempt numbers of the recorded runTrainer starts (a retried activity records its last start only). */
async function trainerAttempts(temporal: TestTemporal, workflowId: string): Promise<number[]> {
  const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const trainerScheduled = new Set(
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTrainer').map((e) => String(e.eventId)),
  );
  return events
    .filter((e) => e.activityTaskStartedEventAttributes && trainerScheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.attempt!);
}

function checkpointsOf(config: RunConfigInput, job = 'pretrain'): string {
  return join(config.outputDir!, config.name!, 'train', 'main', job, 'checkpoints');
}

describe('trainModel on a real dev server with the reference trainer', () => {
  const temporal = useTestTemporal();
  const setEnv = overrideEnv();

  const start = (workflowId: string, config: RunConfigInput) =>
    temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId, args: [config] });

  it('pre-trains, fine-tunes and evaluates on the test set and the validation split, reporting accuracy above chance', async () => {
    const config = await smallRun('e2e', { target: { labelsPerClass: 5, validationPerClass: 10 } });
    const result = await withWorkers(temporal, async () => (await start('test/train-e2e', config)).result());
    console.log('metrics of the small run:', JSON.stringify(result.metrics));
    assert.deepEqual(result.progress.completed, ['pretrain', 'evaluate-pretrained', 'finetune', 'evaluate']);
    for (const key of ['top1', 'val_top1', 'knn_top1', 'linear_probe_top1']) {
      const value = result.metrics[key];
      assert.ok(typeof value === 'number' && value > 0.2 && value <= 1, `${key} = ${value} (chance is 0.1)`);
    }
    assert.equal(result.progress.jobs.pretrain.resumedFromStep, 0);
    // The validation evaluation measured the 10 held-out images of each class, not the test set.
    const validation = JSON.parse(readFileSync(join(config.outputDir!, config.name!, 'train', 'main', 'evaluate-validation', 'metrics.json'), 'utf8'));
    assert.equal(validation.test_samples, 100);
    assert.equal(validation.top1, result.metrics.val_top1);
  });

  it('resumes from the last checkpoint when the trainer process is killed', async () => {
    const config = await smallRun('kill-trainer', { pretrain: { steps: 80, batchSize: 32 }, finetune: { epochs: 1, batchSize: 25 } });
    const result = await withWorkers(temporal, async () => {
      const handle = await start('test/train-kill-trainer', config);
      const seen = await waitFor('a first checkpoint', () => latestCheckpoint(checkpointsOf(config)));
      const pids = pidsMatching(join(config.name!, 'train', 'main', 'pretrain', 'pretrain.config.json'));
      assert.equal(pids.length, 1, 'one trainer process');
      process.kill(pids[0], 'SIGKILL');
      assert.ok(seen.step >= 5);
      return handle.result();
    });
    assert.equal(result.progress.jobs.pretrain.attempt, 2);
    assert.ok(result.progress.jobs.pretrain.resumedFromStep >= 5, `resumed from step ${result.progress.jobs.pretrain.resumedFromStep}, not 0`);
  });

  it('pre-trains in two data-parallel processes; a killed rank fails the attempt, and the retry resumes from the checkpoint', async () => {
    const config = await smallRun('ddp', { pretrain: { steps: 40, batchSize: 32 }, finetune: { epochs: 1, batchSize: 25 }, trainer: { processesPerNode: 2 } });
    const result = await withWorkers(temporal, async () => {
      const handle = await start('test/train-ddp', config);
      await waitFor('a first checkpoint', () => latestCheckpoint(checkpointsOf(config)));
      const launchers = new Set(pidsMatching('septtrainer.launch'));
      const processes = pidsMatching(join('ddp', 'train', 'main', 'pretrain', 'pretrain.config.json'));
      const ranks = processes.filter((pid) => !launchers.has(pid));
      assert.deepEqual([processes.length - ranks.length, ranks.length], [1, 2], 'torchrun and two ranks');
      process.kill(ranks[1], 'SIGKILL');
      return handle.result();
    });
    assert.equal(result.progress.jobs.pretrain.attempt, 2);
    assert.ok(result.progress.jobs.pretrain.resumedFromStep >= 5, `resumed from step ${result.progress.jobs.pretrain.resumedFromStep}, not 0`);
    assert.deepEqual(result.progress.completed, ['pretrain', 'evaluate-pretrained', 'finetune', 'evaluate']);
  });

  it('on cancel, the trainer checkpoints and stops, the activity ends cancelled, and a new run resumes', async () => {
    // Far more steps than the test waits for: the run must never finish before the cancel lands.
    const config = await smallRun('cancel', { pretrain: { steps: 5000, batchSize: 32 }, trainer: { checkpointEverySteps: 20 } });
    const eventsFile = join(config.outputDir!, 'cancel', 'train', 'main', 'pretrain', 'events.jsonl');
    // Complete lines only: the activity may be writing the next one.
    const events = () =>
      (existsSync(eventsFile) ? readFileSync(eventsFile, 'utf8').split('\n').slice(0, -1) : []).map((l) => JSON.parse(l) as { event: string; step?: number });
    const cancelAfterProgress = (workflowId: string, progressed: (e: { event: string; step?: number }[]) => boolean) =>
      withWorkers(temporal, async () => {
        const handle = await start(workflowId, config);
        await waitFor('training under way', () => progressed(events()));
        await handle.cancel();
        return handle.result().then(() => undefined, (err: unknown) => err);
      });

    const error = await cancelAfterProgress('test/train-cancel', (e) => e.some((x) => x.event === 'checkpoint' && x.step === 20));
    assert.ok(error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure, String(error));
    const stopped = events();
    const saved = await latestCheckpoint(checkpointsOf(config));
    assert.equal(stopped.at(-1)?.event, 'checkpoint', 'the stop checkpoint is the trainer\'s last word');
    assert.equal(stopped.at(-1)?.step, saved?.step);
    assert.ok(!stopped.some((e) => e.event === 'artifact'), 'the run did not finish');
    assert.deepEqual(pidsMatching(join('cancel', 'train', 'main', 'pretrain')), [], 'the trainer has exited');
    const history = await temporal.client.workflow.getHandle('test/train-cancel').fetchHistory();
    assert.ok(history.events?.some((e) => e.activityTaskCanceledEventAttributes), 'the activity ended cancelled');

    // The same run started again continues from that checkpoint: its first progress comes after it.
    await cancelAfterProgress('test/train-cancel-again', (e) => e.length > stopped.length && e.slice(stopped.length).some((x) => x.event === 'progress'));
    const firstResumed = events().slice(stopped.length).find((e) => e.event === 'progress');
    assert.ok(firstResumed && firstResumed.step! > saved!.step, `resumed at step ${firstResumed?.step}, after checkpoint ${saved?.step}`);
  });

  it('fails without retries, naming the field, on an invalid trainer configuration', async () => {
    // The run schema accepts a 30-pixel crop; the trainer's ViT patch size of 4 does not divide it.
    const config = await smallRun('invalid', { pretrain: { method: 'mae' }, encoder: { size: 30, crop: 30 } });
    const error = await withWorkers(temporal, async () => (await start('test/train-invalid', config)).result().then(() => undefined, (err: unknown) => err));
    assert.ok(error instanceof WorkflowFailedError);
    const failure = error.cause?.cause;
    assert.ok(failure instanceof ApplicationFailure, String(error.cause));
    assert.equal(failure.type, 'InvalidTrainerConfig');
    assert.match(failure.message, /config\.vit\.patch_size/);
    assert.deepEqual(await trainerAttempts(temporal, 'test/train-invalid'), [1], 'no retries spent');
  });

  it('stops after the configured attempts with the crashing trainer\'s last stderr lines; a trainer sees none of the worker\'s secrets', async () => {
    // A trainer the worker registers (SEPT_TRAINERS): it writes the environment it was given, then crashes.
    const dir = tempDir();
    const envFile = join(dir, 'trainer-env.json');
    const crash = [
      'python3',
      '-c',
      "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w')); print('loading shards', file=sys.stderr); print('RuntimeError: CUDA out of memory', file=sys.stderr); sys.exit(1)",
      envFile,
    ];
    // A trainer that reports one step, then hangs (a rank stuck in a collective): it stops only when told to.
    const hang = [
      'python3',
      '-c',
      "import json, signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)); print(json.dumps({'event': 'progress', 'stage': 'pretrain', 'epoch': 0, 'step': 1, 'total_steps': 10, 'loss': 1.0, 'lr': 0.1, 'images_per_s': 1.0}), flush=True); time.sleep(3600)",
    ];
    const registry = join(dir, 'trainers.json');
    writeFileSync(registry, JSON.stringify({ crash: { command: crash, env: { CRASH_NOTE: 'registered' } }, hang: { command: hang } }));
    // Secrets in the worker's environment; SEPT_TRAINERS is one of its SEPT_* settings.
    setEnv({ SEPT_TRAINERS: registry, AWS_SECRET_ACCESS_KEY: 'worker-secret', TEMPORAL_API_KEY: 'worker-secret' });
    const config = await smallRun('crash', { trainer: { name: 'crash', maxAttempts: 2 } });
    const unknown = await smallRun('unknown-trainer', { trainer: { name: 'nonesuch' } });
    const hung = await smallRun('hang', { trainer: { name: 'hang', maxAttempts: 2, progressTimeout: '3s' } });
    const [error, refused, stalled] = await withWorkers(temporal, async () => {
      const outcome = (workflowId: string, run: RunConfigInput) => start(workflowId, run).then((h) => h.result()).then(() => undefined, (err: unknown) => err);
      return [await outcome('test/train-crash', config), await outcome('test/train-unknown-trainer', unknown), await outcome('test/train-hang', hung)];
    });
    assert.ok(error instanceof WorkflowFailedError);
    const failure = error.cause?.cause;
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'TrainerFailed');
    assert.match(failure.message, /exited with code 1/);
    assert.match(failure.message, /CUDA out of memory/);
    assert.deepEqual(await trainerAttempts(temporal, 'test/train-crash'), [2], 'stopped after attempt 2 of 2');
    // The workflow's failure message (what the Temporal UI shows) and the client's (what the CLI prints) name the root cause, the activity and its attempt.
    const rootCause = `TrainerFailed in activity runTrainer (attempt 2): ${failure.message}`;
    assert.equal(error.cause?.message, rootCause);
    const events = (await temporal.client.workflow.getHandle('test/train-crash').fetchHistory()).events ?? [];
    assert.equal(events.at(-1)?.workflowExecutionFailedEventAttributes?.failure?.message, rootCause, 'as recorded in the history');
    const printed = await getSeptRun<'trainModel'>('test/train-crash', { client: temporal.client }).then((run) => run.result().then(() => '', (err: Error) => err.message));
    assert.ok(printed.startsWith(`trainModel test/train-crash failed: ${rootCause.replace(/\n/g, '\n  ')}\n  Temporal UI: http`), printed);
    assert.match(printed, /\n {2}ActivityFailure: activity runTrainer failed at attempt 2 \(retry state: maximum attempts reached\)\n {2}TrainerFailed: trainer \S+ exited with code 1; last stderr lines: …$/);

    const seen = JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(seen).filter((k) => /^(AWS_|TEMPORAL_|SEPT_)/.test(k)), ['SEPT_TRAINER_SUPERVISED'], 'only the protocol\'s variable of those families');
    assert.equal(seen.CRASH_NOTE, 'registered', 'the registry entry\'s env');
    assert.equal(seen.HOME, process.env.HOME, 'an allowlisted variable of the worker');

    // A name the worker does not register fails at once, not retried, naming the field and the names it has.
    assert.ok(refused instanceof WorkflowFailedError);
    const refusal = refused.cause?.cause;
    assert.ok(refusal instanceof ApplicationFailure, String(refused.cause));
    assert.equal(refusal.type, 'ConfigError');
    assert.match(refusal.message, /trainer\.name: "nonesuch" .*: reference, crash/);
    assert.deepEqual(await trainerAttempts(temporal, 'test/train-unknown-trainer'), [1], 'no retries spent');

    // A trainer that reports nothing for trainer.progressTimeout is stopped, and the attempt retried.
    assert.ok(stalled instanceof WorkflowFailedError);
    const stall = stalled.cause?.cause;
    assert.ok(stall instanceof ApplicationFailure, String(stalled.cause));
    assert.equal(stall.type, 'TrainerFailed');
    assert.match(stall.message, /reported nothing for 3 s after step 1 \(trainer\.progressTimeout\) and was stopped/);
    assert.deepEqual(await trainerAttempts(temporal, 'test/train-hang'), [2], 'retried, then stopped after attempt 2 of 2');
  });
});
