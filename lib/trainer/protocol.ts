import { z } from 'zod';

/** Exit codes of the trainer protocol (trainer/PROTOCOL.md). */
export const TRAINER_EXIT = {
  OK: 0,
  /** Unexpected error: retryable. */
  FAILED: 1,
  /** Invalid configuration: not retryable; stderr names the field. */
  INVALID_CONFIG: 2,
  /** Stopped on SIGTERM after writing a checkpoint (128 + 15). */
  STOPPED: 143,
} as const;

export const TRAINER_STAGES = ['pretrain', 'finetune', 'evaluate', 'export'] as const;
export type TrainerStage = (typeof TRAINER_STAGES)[number];

/** The stages that write checkpoints and continue from `--resume`; evaluate and export start over. */
export const RESUMABLE_STAGES: readonly TrainerStage[] = ['pretrain', 'finetune'];

const num = z.number().nullable();

const progressEvent = z.object({
  event: z.literal('progress'),
  stage: z.string(),
  epoch: z.number(),
  step: z.number(),
  total_steps: z.number(),
  loss: num,
  lr: num,
  images_per_s: num,
});
const checkpointEvent = z.object({ event: z.literal('checkpoint'), path: z.string(), step: z.number(), write_seconds: z.number().optional() });
const metricsEvent = z.object({ event: z.literal('metrics'), stage: z.string(), metrics: z.record(z.string(), num) });
const artifactEvent = z.object({ event: z.literal('artifact'), kind: z.string(), path: z.string() });

const trainerEvent = z.discriminatedUnion('event', [progressEvent, checkpointEvent, metricsEvent, artifactEvent]);
export type TrainerEvent = z.infer<typeof trainerEvent>;
export type ProgressEvent = z.infer<typeof progressEvent>;

/** Parses one stdout line; undefined for a line that is not a protocol event (logged by the caller). */
export function parseTrainerEvent(line: string): TrainerEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = trainerEvent.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
