import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startingHeartbeat, type TrainerHeartbeat } from '../../../../lib/trainer/heartbeat';
import { trainerJobError, type TrainerStop } from '../../../../lib/trainer/job-error';
import type { TrainerOutcome } from '../../../../lib/trainer/process';
import { RESUMABLE_STAGES, TRAINER_STAGES } from '../../../../lib/trainer/protocol';

const outcome = (fields: Partial<TrainerOutcome>): TrainerOutcome => ({
  exitCode: 0,
  signal: null,
  stopped: false,
  metrics: {},
  artifacts: [],
  stderrTail: [],
  ...fields,
});
const beat: TrainerHeartbeat = { stage: 'pretrain', step: 40 };
const stderr = Array.from({ length: 12 }, (_, i) => `line ${i}`);
const lastTen = stderr.slice(-10).join('\n');

describe('what a finished trainer means for its job', () => {
  const cases: { name: string; outcome: TrainerOutcome; beat?: TrainerHeartbeat; stop?: TrainerStop; type?: string; message?: string; detail?: unknown }[] = [
    { name: 'exit 0: the job succeeded', outcome: outcome({ exitCode: 0 }) },
    {
      name: 'exit 2: an invalid configuration, named by the last stderr line',
      outcome: outcome({ exitCode: 2, stderrTail: ['invalid configuration: config.batch_size: must be a positive integer'] }),
      type: 'InvalidTrainerConfig',
      message: 'invalid trainer configuration for pretrain: invalid configuration: config.batch_size: must be a positive integer',
      detail: { stderr: 'invalid configuration: config.batch_size: must be a positive integer' },
    },
    {
      name: 'exit 1: a crash, with the last ten stderr lines',
      outcome: outcome({ exitCode: 1, stderrTail: stderr }),
      type: 'TrainerFailed',
      message: `trainer pretrain exited with code 1; last stderr lines:\n${lastTen}`,
      detail: { stderr: lastTen },
    },
    {
      name: 'killed by a signal from outside',
      outcome: outcome({ exitCode: null, signal: 'SIGKILL' }),
      type: 'TrainerFailed',
      message: 'trainer pretrain killed by SIGKILL; last stderr lines:\n',
    },
    {
      name: 'exit 143 that nobody asked for: a failure, not a stop',
      outcome: outcome({ exitCode: 143, stopped: true }),
      type: 'TrainerFailed',
      message: 'trainer pretrain exited with code 143; last stderr lines:\n',
    },
    {
      name: 'cancelled: at the stop checkpoint the trainer reported',
      outcome: outcome({ exitCode: 143, stopped: true, lastCheckpoint: { path: '/c/checkpoint-00000042.pt', step: 42 } }),
      stop: 'cancelled',
      type: 'Cancelled',
      message: 'trainer pretrain stopped on cancellation at checkpoint /c/checkpoint-00000042.pt',
      detail: { checkpoint: { path: '/c/checkpoint-00000042.pt', step: 42 } },
    },
    {
      name: 'cancelled before any checkpoint of this attempt: at the one heartbeated',
      outcome: outcome({ exitCode: null, signal: 'SIGKILL' }),
      beat: { ...beat, checkpoint: '/c/checkpoint-00000030.pt', checkpointStep: 30 },
      stop: 'cancelled',
      type: 'Cancelled',
      message: 'trainer pretrain stopped on cancellation at checkpoint /c/checkpoint-00000030.pt',
      detail: { checkpoint: { path: '/c/checkpoint-00000030.pt', step: 30 } },
    },
    {
      name: 'cancelled with no checkpoint at all',
      outcome: outcome({ exitCode: 143 }),
      stop: 'cancelled',
      type: 'Cancelled',
      message: 'trainer pretrain stopped on cancellation at checkpoint (none)',
      detail: { checkpoint: undefined },
    },
    {
      name: 'its worker shutting down, whatever the exit code: the next attempt resumes',
      outcome: outcome({ exitCode: 2, lastCheckpoint: { path: '/c/checkpoint-00000042.pt', step: 42 } }),
      stop: 'worker-shutdown',
      type: 'WorkerShutdown',
      message: 'trainer pretrain stopped because its worker is shutting down; checkpoint /c/checkpoint-00000042.pt (step 42); the next attempt resumes from it',
      detail: { checkpoint: { path: '/c/checkpoint-00000042.pt', step: 42 } },
    },
    {
      name: 'its worker shutting down before any checkpoint',
      outcome: outcome({ exitCode: 143 }),
      stop: 'worker-shutdown',
      type: 'WorkerShutdown',
      message: 'trainer pretrain stopped because its worker is shutting down; checkpoint (none); the next attempt resumes from it',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const error = trainerJobError('pretrain', c.outcome, c.beat ?? beat, c.stop);
      assert.equal(error?.type, c.type);
      if (c.message !== undefined) assert.equal(error?.message, c.message);
      if (c.detail !== undefined) assert.deepEqual(error?.detail, c.detail);
    });
  }
});

describe('where an attempt starts', () => {
  it('resumes only the stages that checkpoint', () => {
    assert.deepEqual(
      TRAINER_STAGES.filter((s) => RESUMABLE_STAGES.includes(s)),
      ['pretrain', 'finetune'],
    );
  });

  const resume = { path: '/c/checkpoint-00000050.pt', step: 50 };
  const previous: TrainerHeartbeat = { stage: 'pretrain', step: 63, checkpoint: '/c/checkpoint-00000060.pt', checkpointStep: 60 };
  const cases: { name: string; resume?: typeof resume; previous?: TrainerHeartbeat; expected: TrainerHeartbeat }[] = [
    { name: 'a first attempt: step 0, no checkpoint', expected: { stage: 'pretrain', step: 0, checkpoint: undefined, checkpointStep: undefined, batchSize: 64 } },
    {
      name: 'a checkpoint in the folder: from its step, whatever the previous heartbeat said',
      resume,
      previous,
      expected: { stage: 'pretrain', step: 50, checkpoint: resume.path, checkpointStep: 50, batchSize: 64 },
    },
    {
      name: 'none in the folder: step 0, still naming the checkpoint an earlier attempt heartbeated',
      previous,
      expected: { stage: 'pretrain', step: 0, checkpoint: previous.checkpoint, checkpointStep: undefined, batchSize: 64 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(startingHeartbeat('pretrain', c.resume, c.previous, 64), c.expected));
  }
});
