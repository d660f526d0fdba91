import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { listShards } from '../sources/list-shards';
import { sourceSamples } from '../sources/samples';
import { firstPerClass } from '../target/first-per-class';

/** One labeled target instance: train instances retrieve the subset, test instances drive the leakage guard. */
export interface TargetInstance {
  /** `<source>/<key>`, the id its vector is stored under. */
  id: string;
  label?: string;
  split: 'train' | 'test';
}

async function listSplit(spec: SourceSpec, split: TargetInstance['split'], perClass?: number): Promise<TargetInstance[]> {
  const out: TargetInstance[] = [];
  const keep = firstPerClass(perClass);
  for (const ref of await listShards(spec)) {
    // A sample without an image has no vector to retrieve with (the embedding stage quarantines it).
    for await (const { id, label, image } of sourceSamples(ref)) if (image && keep(label)) out.push({ id, label, split });
  }
  return out;
}

/** The target task's instances, train then test, each in shard order, without decoding images. */
export async function listTargetInstances(target: RunConfig['target']): Promise<TargetInstance[]> {
  const [train, test] = await Promise.all([listSplit(target.train, 'train', target.labelsPerClass), listSplit(target.test, 'test')]);
  return [...train, ...test];
}
