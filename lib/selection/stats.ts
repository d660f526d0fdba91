import type { Selection } from './types';

export interface SelectionStats {
  size: number;
  policy: string;
  budget?: number;
  shortfall: number;
  path: 'exact' | 'ann';
  perSource: Record<string, number>;
  perTargetClass: Record<string, number>;
  /** Pool images removed as duplicates of target test images (the leakage guard). */
  duplicatesRemoved: number;
  /** Test images whose every retrieved neighbour was a duplicate: raise k to be sure none is missed. */
  leakageSaturated: number;
  targetImagesDropped: number;
  belowMinSimilarity: number;
  /** Selected samples per cosine-distance bin of width `binWidth`, from 0. */
  distanceHistogram: { binWidth: number; counts: number[] };
  meanHitCount: number;
}

const BIN = 0.05;

const tally = (keys: string[]) => keys.reduce<Record<string, number>>((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});

/** Source of a sample id `<source>/<key>`. */
export const sourceOf = (id: string) => id.slice(0, Math.max(0, id.indexOf('/'))) || id;

export function selectionStats(selection: Selection, context: { policy: string; budget?: number; path: 'exact' | 'ann'; leakageSaturated: number }): SelectionStats {
  const s = selection.samples;
  const counts: number[] = [];
  for (const x of s) {
    const bin = Math.max(0, Math.floor(x.distance / BIN));
    while (counts.length <= bin) counts.push(0);
    counts[bin]++;
  }
  return {
    size: s.length,
    policy: context.policy,
    budget: context.budget,
    shortfall: selection.shortfall,
    path: context.path,
    perSource: tally(s.map((x) => sourceOf(x.poolId))),
    perTargetClass: tally(s.map((x) => x.closestLabel ?? '')),
    duplicatesRemoved: selection.leakageExcluded,
    leakageSaturated: context.leakageSaturated,
    targetImagesDropped: selection.targetImagesDropped,
    belowMinSimilarity: selection.belowMinSimilarity,
    distanceHistogram: { binWidth: BIN, counts },
    meanHitCount: s.length ? s.reduce((n, x) => n + x.hitCount, 0) / s.length : 0,
  };
}
