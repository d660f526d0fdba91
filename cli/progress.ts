import { count, fixed, shortDuration } from '../lib/format';
import type { TrainerHeartbeat } from '../lib/trainer/heartbeat';
import { etaSeconds } from '../lib/trainer/heartbeat';
import type { EmbedProgress } from '../workflows/embed-progress';
import type { TrainModelProgress } from '../workflows/train-model';

/** `[#########---------------]  45%` */
export function progressBar(fraction: number, width = 30): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}

/** `[#########-----]  45%  450/1000 shards  448,512 embedded  12 quarantined  3,120 images/s` */
export function formatEmbedProgress(p: EmbedProgress): string {
  const fraction = p.shardsTotal > 0 ? p.shardsDone / p.shardsTotal : 0;
  return `${progressBar(fraction)}  ${count(p.shardsDone)}/${count(p.shardsTotal)} shards  ${count(p.samplesEmbedded)} embedded  ${count(p.quarantined)} quarantined  ${count(p.imagesPerSecond)} images/s`;
}

/** `[#####-----]  31%  pretrain step 186/600  loss 3.412  402 images/s  ETA 4m08s  checkpoint step 150` */
export function formatTrainerLine(beat: TrainerHeartbeat & { totalSteps: number }): string {
  const eta = etaSeconds(beat);
  const parts = [
    progressBar(beat.step / beat.totalSteps),
    `${beat.stage} step ${count(beat.step)}/${count(beat.totalSteps)}`,
    beat.loss != null ? `loss ${fixed(beat.loss, 3)}` : undefined,
    beat.imagesPerS != null ? `${count(Math.round(beat.imagesPerS))} images/s` : undefined,
    eta !== undefined ? `ETA ${shortDuration(eta)}` : undefined,
    beat.checkpoint ? `checkpoint step ${beat.checkpointStep}` : undefined,
  ];
  return parts.filter(Boolean).join('  ');
}

/** The stages done, then the running stage's trainer line. */
export function formatTrainProgress(p: TrainModelProgress, beat: TrainerHeartbeat | undefined): string {
  const done = p.completed.length ? `done: ${p.completed.join(', ')}\n` : '';
  if (!beat || !beat.totalSteps) return `${done}${p.stage}: starting`;
  return done + formatTrainerLine({ ...beat, totalSteps: beat.totalSteps });
}
