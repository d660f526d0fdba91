import type { TrainerResult } from '../activities/train';

/** The path of a trainer artifact of `kind` (its last checkpoint where it reported none). */
export function artifactPath(result: TrainerResult, kind: string): string {
  const found = result.artifacts.find((a) => a.kind === kind)?.path ?? result.lastCheckpoint?.path;
  if (!found) throw new Error(`trainer ${result.job} reported no ${kind}`);
  return found;
}
