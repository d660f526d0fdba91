import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { listShards } from '../sources/list-shards';
import { sourceSamples } from '../sources/samples';
import { trainSourceSplit } from '../target/split-of';

/**
 * One labeled target instance: train instances retrieve the subset; the evaluation splits
 * (validation, test) drive the leakage guard. None of them enters the subset.
 */
export interface TargetInstance {
  /** `<source>/<key>`, the id its vector is stored under. */
  id: string;
  label?: string;
  split: 'train' | 'validation' | 'test';
}

/** The splits a model is measured on: the leakage guard keeps their near-duplicates out of the subset. */
export const isEvaluationSplit = (split: string): boolean => split === 'validation' || split === 'test';

async function listSplit(spec: SourceSpec, splitOf: (label: string | undefined) => TargetInstance['split'] | undefined): Promise<TargetInstance[]> {
  const out: TargetInstance[] = [];
  for (const ref of await listShards(spec)) {
    // A sample without an image has no vector to retrieve with (the embedding stage quarantines it).
    for await (const { id, label, image } of sourceSamples(ref)) {
      if (!image) continue;
      const split = splitOf(label);
      if (split) out.push({ id, label, split });
    }
  }
  return out;
}

/**
 * The target task's instances without decoding images: target.train's (train, then validation with
 * `target.validationPerClass`, in shard order), then target.test's.
 */
export async function listTargetInstances(target: RunConfig['target']): Promise<TargetInstance[]> {
  const [fromTrain, test] = await Promise.all([listSplit(target.train, trainSourceSplit(target)), listSplit(target.test, () => 'test')]);
  return [...fromTrain.filter((t) => t.split === 'train'), ...fromTrain.filter((t) => t.split === 'validation'), ...test];
}

/** The sources whose images the leakage guard compares pool images with: target.test, and target.train when it holds a validation split. */
export function evaluationSources(target: RunConfig['target']): SourceSpec[] {
  return target.validationPerClass ? [target.test, target.train] : [target.test];
}
