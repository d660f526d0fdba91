import type { TargetNeighbours } from './types';

export interface LeakageReport {
  /** Pool ids at or above the cosine threshold to some target test image. */
  excluded: Set<string>;
  /** Each (test image, pool image) pair at or above the threshold: what a pixel check confirms. */
  pairs: { testId: string; poolId: string }[];
  /**
   * Test images whose every retrieved neighbour was above the threshold: more duplicates may
   * exist beyond rank k, so a larger k would exclude more.
   */
  saturated: number;
}

/**
 * The leakage guard: pool images that duplicate or nearly duplicate a target test image (cosine
 * similarity >= threshold) must not be pre-trained on, or the test score measures memory. Adds to
 * `report` when given, so the test targets' lists can come a chunk at a time.
 */
export function leakageExclusions(testHits: TargetNeighbours[], threshold: number, report: LeakageReport = { excluded: new Set(), pairs: [], saturated: 0 }): LeakageReport {
  const maxDistance = 1 - threshold;
  for (const target of testHits) {
    let within = 0;
    for (const n of target.neighbours) {
      if (n.distance > maxDistance) break;
      report.excluded.add(n.poolId);
      report.pairs.push({ testId: target.targetId, poolId: n.poolId });
      within++;
    }
    if (within > 0 && within === target.neighbours.length) report.saturated++;
  }
  return report;
}
