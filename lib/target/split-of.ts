/** Where a labeled train-source sample goes: fine-tuning and retrieval (`train`), the validation split, or nowhere. */
export type TrainSourceSplit = 'train' | 'validation' | undefined;

/**
 * The few-label rule of a target task: in shard order, the first `labelsPerClass` samples of each
 * class are its train instances, the next `validationPerClass` its validation split, and the rest
 * are left out (without `labelsPerClass`, every sample is a train instance). Unlabeled samples count
 * as one class of their own. Selection, the first step and training all apply it, so all see the
 * same instances. Returns a stateful function, called once per sample in shard order.
 */
export function trainSourceSplit(target: { labelsPerClass?: number; validationPerClass?: number }): (label: string | undefined) => TrainSourceSplit {
  const { labelsPerClass, validationPerClass = 0 } = target;
  if (labelsPerClass === undefined) return () => 'train';
  const seen = new Map<string, number>();
  return (label) => {
    const n = seen.get(label ?? '') ?? 0;
    seen.set(label ?? '', n + 1);
    if (n < labelsPerClass) return 'train';
    return n < labelsPerClass + validationPerClass ? 'validation' : undefined;
  };
}
