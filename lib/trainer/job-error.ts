import type { Checkpoint } from './checkpoints';
import type { TrainerHeartbeat } from './heartbeat';
import type { TrainerOutcome } from './process';
import { TRAINER_EXIT } from './protocol';

/** Why a trainer was asked to stop: the run was cancelled, or only its worker is going away. */
export type TrainerStop = 'cancelled' | 'worker-shutdown';

/**
 * How a trainer job ended without its result. `type` is what workflows see (activities/failures.ts
 * decides what each is retried as); `detail` travels with the failure.
 */
export class TrainerJobError extends Error {
  constructor(
    readonly type: 'InvalidTrainerConfig' | 'TrainerFailed' | 'WorkerShutdown' | 'Cancelled',
    message: string,
    readonly detail: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'TrainerJobError';
  }
}

/** A trainer stopped by its worker for reporting nothing for `afterMs`: retried, from its newest checkpoint. */
export function trainerStalled(job: string, afterMs: number, beat: TrainerHeartbeat): TrainerJobError {
  const from = beat.checkpoint ? `${beat.checkpoint} (step ${beat.checkpointStep ?? 0})` : 'its start';
  return new TrainerJobError(
    'TrainerFailed',
    `trainer ${job} reported nothing for ${afterMs / 1000} s after step ${beat.step} (trainer.progressTimeout) and was stopped; the next attempt resumes from ${from}`,
    { stalledMs: afterMs, checkpoint: beat.checkpoint },
  );
}

/**
 * What a finished trainer process means for its job (trainer/PROTOCOL.md, Exit codes): undefined
 * when it succeeded. A stop is judged before the exit code: a stopped trainer exits 143, or is
 * killed after the grace period.
 */
export function trainerJobError(job: string, outcome: TrainerOutcome, beat: TrainerHeartbeat, stop?: TrainerStop): TrainerJobError | undefined {
  const tail = outcome.stderrTail.slice(-10).join('\n');
  if (stop) {
    const at: Checkpoint | undefined = outcome.lastCheckpoint ?? (beat.checkpoint ? { path: beat.checkpoint, step: beat.checkpointStep ?? 0 } : undefined);
    if (stop === 'worker-shutdown') {
      const where = at ? `${at.path} (step ${at.step})` : '(none)';
      return new TrainerJobError('WorkerShutdown', `trainer ${job} stopped because its worker is shutting down; checkpoint ${where}; the next attempt resumes from it`, { checkpoint: at });
    }
    return new TrainerJobError('Cancelled', `trainer ${job} stopped on cancellation at checkpoint ${at?.path ?? '(none)'}`, { checkpoint: at });
  }
  if (outcome.exitCode === TRAINER_EXIT.INVALID_CONFIG) {
    return new TrainerJobError('InvalidTrainerConfig', `invalid trainer configuration for ${job}: ${outcome.stderrTail.at(-1) ?? ''}`, { stderr: tail });
  }
  if (outcome.exitCode !== TRAINER_EXIT.OK) {
    const how = outcome.signal ? `killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    return new TrainerJobError('TrainerFailed', `trainer ${job} ${how}; last stderr lines:\n${tail}`, { stderr: tail });
  }
  return undefined;
}
