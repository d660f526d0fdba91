import type { TrainerHeartbeat } from '../lib/trainer/heartbeat';
import { etaSeconds } from '../lib/trainer/heartbeat';
import type { EmbedProgress } from '../workflows/embed-progress';
import type { TrainModelProgress } from '../workflows/train-model';

const n = (v: number) => v.toLocaleString('en-US');

/** `[#########---------------]  45%` */
export function progressBar(fraction: number, width = 30): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `[#########-----]  45%  450/1000 shards  448,512 embedded  12 quarantined  3,120 images/s` */
export function formatEmbedProgress(p: EmbedProgress): string {
  const fraction = p.shardsTotal > 0 ? p.shardsDone / p.shardsTotal : 0;
  return `${progressBar(fraction)}  ${n(p.shardsDone)}/${n(p.shardsTotal)} shards  ${n(p.samplesEmbedded)} embedded  ${n(p.quarantined)} quarantined  ${n(p.imagesPerSecond)} images/s`;
}

/** `[#####-----]  31%  pretrain step 186/600  loss 3.412  402 images/s  ETA 4m08s  checkpoint step 150` */
export function formatTrainerLine(beat: TrainerHeartbeat & { totalSteps: number }): string {
  const eta = etaSeconds(beat);
  const parts = [
    progressBar(beat.step / beat.totalSteps),
    `${beat.stage} step ${n(beat.step)}/${n(beat.totalSteps)}`,
    beat.loss != null ? `loss ${beat.loss.toFixed(3)}` : undefined,
    beat.imagesPerS != null ? `${n(Math.round(beat.imagesPerS))} images/s` : undefined,
    eta !== undefined ? `ETA ${duration(eta)}` : undefined,
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
