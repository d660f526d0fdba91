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
  /** Candidates that pool deduplication removed (`dedup.enabled`; absent otherwise). */
  dedupRemoved?: number;
  /** Test images whose every retrieved neighbour was a duplicate: raise k to be sure none is missed. */
  leakageSaturated: number;
  targetImagesDropped: number;
  belowMinSimilarity: number;
  /** Selected samples per cosine-distance bin of width `binWidth`, from 0. */
  distanceHistogram: { binWidth: number; counts: number[] };
  meanHitCount: number;
  /**
   * The collision figures, so that policies can be compared (absent in stats written before them):
   * train hits within k the policy could take (not target images, not below minSimilarity, not
   * leaked), selected images per such hit (1 when every hit found an image no other hit found and
   * all were taken), and the share of the budget filled (budget policies only).
   */
  hitsOffered?: number;
  distinctPerHit?: number;
  budgetFilled?: number;
}

const BIN = 0.05;

const tally = (keys: string[]) => keys.reduce<Record<string, number>>((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});

/** Source of a sample id `<source>/<key>`. */
export const sourceOf = (id: string) => id.slice(0, Math.max(0, id.indexOf('/'))) || id;

/** `dedupRemoved`: of the selection's exclusions, those pool deduplication made (the rest are the leakage guard's). */
export function selectionStats(selection: Selection, context: { policy: string; budget?: number; path: 'exact' | 'ann'; leakageSaturated: number; dedupRemoved?: number }): SelectionStats {
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
    duplicatesRemoved: selection.leakageExcluded - (context.dedupRemoved ?? 0),
    ...(context.dedupRemoved === undefined ? {} : { dedupRemoved: context.dedupRemoved }),
    leakageSaturated: context.leakageSaturated,
    targetImagesDropped: selection.targetImagesDropped,
    belowMinSimilarity: selection.belowMinSimilarity,
    distanceHistogram: { binWidth: BIN, counts },
    meanHitCount: s.length ? s.reduce((n, x) => n + x.hitCount, 0) / s.length : 0,
    hitsOffered: selection.hitsOffered,
    distinctPerHit: selection.hitsOffered ? s.length / selection.hitsOffered : 0,
    budgetFilled: context.budget ? s.length / context.budget : undefined,
  };
}
