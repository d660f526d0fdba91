import type { EncoderSpec } from '../encoder/spec';
import { count } from '../format';
import { inputLimits } from '../input-limits';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';
import type { QuarantinedSample, ShardVectors } from '../vectors/staging';
import { Embedder } from './embedder';
import type { BatchResult } from './thread-protocol';

interface Batch {
  ids: string[];
  result?: BatchResult;
}

/**
 * Embeds every image of a shard with the process's embed threads. The shard is read as a stream
 * and cut into batches of at most `spec.batchSize` images and SEPT_MAX_BATCH_BYTES encoded bytes;
 * a few batches are in flight at once so the threads never starve, and at most that many are held
 * in memory. Bad samples are collected, never thrown.
 */
export async function embedShardImages(ref: ShardRef, spec: EncoderSpec, onBatch?: (samplesDone: number) => void): Promise<ShardVectors> {
  const embedder = Embedder.of(spec);
  const { dims } = await embedder.ready;
  const maxInFlight = spec.threads * 2;
  const batches: Batch[] = [];
  const inFlight = new Set<Promise<void>>();
  const unreadable: QuarantinedSample[] = [];
  let samples = 0;
  let done = 0;
  let ids: string[] = [];
  let images: Buffer[] = [];
  // Encoded bytes of the batch being filled: packed into one buffer with 32-bit offsets (thread-protocol.ts).
  let imageBytes = 0;
  const { batchBytes } = inputLimits();

  const submit = async () => {
    const batch: Batch = { ids };
    batches.push(batch);
    const work = embedder.embed(images).then((result) => {
      batch.result = result;
      done += batch.ids.length;
      onBatch?.(done);
    });
    ids = [];
    images = [];
    imageBytes = 0;
    const tracked = work.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
  };

  for await (const sample of sourceSamples(ref)) {
    samples++;
    if (sample.problem) {
      unreadable.push({ id: sample.id, ...sample.problem });
      continue;
    }
    if (sample.image.length > batchBytes) {
      unreadable.push({ id: sample.id, reason: 'too-large', detail: `image of ${count(sample.image.length)} bytes, more than an embed batch may hold (SEPT_MAX_BATCH_BYTES = ${count(batchBytes)})` });
      continue;
    }
    if (imageBytes + sample.image.length > batchBytes) await submit();
    ids.push(sample.id);
    images.push(sample.image);
    imageBytes += sample.image.length;
    if (ids.length === spec.batchSize) await submit();
  }
  if (ids.length > 0) await submit();
  await Promise.all(inFlight);

  const out: ShardVectors = { shardId: ref.id, version: ref.version ?? '', format: ref.format ?? 'webdataset', samples, ids: [], vectors: new Float32Array(batches.reduce((n, b) => n + b.result!.embedded.length, 0) * dims), quarantined: [] };
  for (const batch of batches) {
    const { vectors, embedded, bad } = batch.result!;
    out.vectors.set(vectors, out.ids.length * dims);
    for (const i of embedded) out.ids.push(batch.ids[i]);
    out.quarantined.push(...bad.map((b) => ({ id: batch.ids[b.index], reason: b.reason, detail: b.detail })));
  }
  out.quarantined.push(...unreadable);
  return out;
}
