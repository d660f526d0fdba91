// Demo shards (real images) with synthetic vectors under their real sample and shard ids: the
// selection plumbing end to end without waiting for an encoder.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceSpec } from '../../lib/config/sources';
import { encoderIdOf } from '../../lib/encoder/encoder-id';
import { encoderSpecOf } from '../../lib/encoder/spec';
import { parseRunConfig } from '../../lib/config/validate';
import { seededRandom } from '../../lib/retrieval/synthetic';
import { listShards } from '../../lib/sources/list-shards';
import { sourceSamples } from '../../lib/sources/samples';
import { writeVectors } from './pool-table';

export interface DemoRows {
  ids: string[];
  shards: string[];
  labels: number[];
}

export async function demoRows(spec: SourceSpec): Promise<DemoRows> {
  const out: DemoRows = { ids: [], shards: [], labels: [] };
  for (const ref of await listShards(spec)) {
    for await (const { id, label } of sourceSamples(ref)) {
      out.ids.push(id);
      out.shards.push(ref.id);
      out.labels.push(Number(label));
    }
  }
  return out;
}

/** One unit vector per row, near the centre of its label's class (a stand-in for a good encoder). */
export function labelVectors(labels: number[], dim: number, seed: number): Float32Array {
  const centre = seededRandom(0xc1a55);
  const centres = Array.from({ length: 20 }, () => Array.from({ length: dim }, () => centre() - 0.5));
  const random = seededRandom(seed);
  const out = new Float32Array(labels.length * dim);
  labels.forEach((label, i) => {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out[i * dim + j] = centres[label][j] + (random() - 0.5) * 0.8) ** 2;
    for (let j = 0; j < dim; j++) out[i * dim + j] /= Math.sqrt(norm);
  });
  return out;
}

/** A stand-in encoder file: the encoder id is the hash of the model file and the preprocessing. */
export async function fakeEncoder(dir: string): Promise<{ model: string; encoderId: string }> {
  const model = join(dir, 'encoder.onnx');
  await writeFile(model, 'not a real model: retrieval tests only hash it');
  return { model, encoderId: await encoderIdOf(encoderSpecOf(parseRunConfig({ demo: true, encoder: { model } }).encoder)) };
}

export { writeVectors };
