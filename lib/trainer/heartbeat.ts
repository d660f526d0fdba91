import type { Checkpoint } from './checkpoints';
import type { ProgressEvent } from './protocol';

/** What a trainer activity heartbeats: live progress for people, the checkpoint for the next attempt. */
export interface TrainerHeartbeat {
  stage: string;
  step: number;
  totalSteps?: number;
  epoch?: number;
  loss?: number | null;
  imagesPerS?: number | null;
  checkpoint?: string;
  checkpointStep?: number;
  /** Images per step: turns images/s into an ETA. */
  batchSize?: number;
}

/**
 * The first heartbeat of an attempt: at its resume checkpoint, if it has one. Otherwise it keeps the
 * checkpoint an earlier attempt heartbeated, so that a stop before the first new checkpoint still
 * names it; the folder, not the heartbeat, decides what the trainer resumes from.
 */
export function startingHeartbeat(stage: string, resume: Checkpoint | undefined, previous: TrainerHeartbeat | undefined, batchSize: number | undefined): TrainerHeartbeat {
  return { stage, step: resume?.step ?? 0, checkpoint: resume?.path ?? previous?.checkpoint, checkpointStep: resume?.step, batchSize };
}

export function withProgress(beat: TrainerHeartbeat, event: ProgressEvent): TrainerHeartbeat {
  return { ...beat, step: event.step, totalSteps: event.total_steps, epoch: event.epoch, loss: event.loss, imagesPerS: event.images_per_s };
}

/** Seconds left at the current speed. */
export function etaSeconds(beat: TrainerHeartbeat): number | undefined {
  if (!beat.totalSteps || !beat.imagesPerS || !beat.batchSize) return undefined;
  return ((beat.totalSteps - beat.step) * beat.batchSize) / beat.imagesPerS;
}
