import { Context } from '@temporalio/activity';
import type { MetricCounter, MetricGauge, MetricMeter } from '@temporalio/common';

/**
 * septflow's own metrics, recorded through the running activity's metric meter: they reach the
 * worker's exporter (Prometheus when SEPT_METRICS_PORT is set, see workers/telemetry.ts) tagged
 * with namespace, task queue and activity type. Outside an activity (tests, benchmarks, the CLI)
 * every function here does nothing.
 */
interface Instruments {
  imagesEmbedded: MetricCounter;
  samplesQuarantined: MetricCounter;
  trainerSteps: MetricCounter;
  trainerImagesPerSecond: MetricGauge;
}

// Each activity attempt has its own meter (its tags); instruments are made once per meter.
const instrumentsOf = new WeakMap<MetricMeter, Instruments>();

function instruments(): Instruments | undefined {
  let meter: MetricMeter;
  try {
    meter = Context.current().metricMeter;
  } catch {
    return undefined;
  }
  let made = instrumentsOf.get(meter);
  if (!made) {
    made = {
      imagesEmbedded: meter.createCounter('sept_images_embedded', 'images', 'Pool or target images embedded into vectors'),
      samplesQuarantined: meter.createCounter('sept_samples_quarantined', 'samples', 'Samples set aside as undecodable, empty, oversized or unsupported'),
      trainerSteps: meter.createCounter('sept_trainer_steps', 'steps', 'Optimizer steps the trainer reported'),
      trainerImagesPerSecond: meter.createGauge('sept_trainer_images_per_second', 'float', 'images/s', 'Training throughput at the last progress event'),
    };
    instrumentsOf.set(meter, made);
  }
  return made;
}

/** Counters take non-negative integers; anything else is a caller's slip, not worth failing a shard for. */
const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

export function recordEmbedded(images: number): void {
  const n = count(images);
  if (n > 0) instruments()?.imagesEmbedded.add(n);
}

export function recordQuarantined(samples: number): void {
  const n = count(samples);
  if (n > 0) instruments()?.samplesQuarantined.add(n);
}

/**
 * One trainer progress event: `stepsAdvanced` since the previous event (a resumed attempt starts
 * from its checkpoint's step, so pass the difference, never the absolute step), and the speed.
 */
export function recordTrainerProgress(stepsAdvanced: number, imagesPerSecond?: number | null): void {
  const made = instruments();
  if (!made) return;
  const n = count(stepsAdvanced);
  if (n > 0) made.trainerSteps.add(n);
  if (typeof imagesPerSecond === 'number' && Number.isFinite(imagesPerSecond)) made.trainerImagesPerSecond.set(imagesPerSecond);
}
