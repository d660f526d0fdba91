/**
 * The few-label rule of a target task: keep the first `perClass` samples of each class in shard
 * order (unlabeled samples count as one class of their own). Selection and training both apply it,
 * so both see the same labeled instances. Returns a stateful filter.
 */
export function firstPerClass(perClass: number | undefined): (label: string | undefined) => boolean {
  if (perClass === undefined) return () => true;
  const taken = new Map<string, number>();
  return (label) => {
    const n = taken.get(label ?? '') ?? 0;
    if (n >= perClass) return false;
    taken.set(label ?? '', n + 1);
    return true;
  };
}
