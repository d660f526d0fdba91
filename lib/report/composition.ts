import { barChart } from './charts';
import { share } from '../format';
import { byName } from './order';

/** One source's part of a pre-training set, next to its part of the pool. */
export interface SourceShare {
  source: string;
  selected: number;
  /** selected / all selected. */
  ofSubset: number | null;
  pool: number;
  /** pool images of this source / all pool images. */
  ofPool: number | null;
  /** selected / pool images of this source: how much of the source was kept. */
  kept: number | null;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * Subset against pool, source by source. Comparing the two shares shows what retrieval did: a source
 * far more present in the subset than in the pool is what the target task resembles.
 */
export function sourceShares(subset: Record<string, number>, pool: Record<string, number>): SourceShare[] {
  const [subsetTotal, poolTotal] = [total(subset), total(pool)];
  return [...new Set([...Object.keys(pool), ...Object.keys(subset)])].sort(byName).map((source) => {
    const selected = subset[source] ?? 0;
    const inPool = pool[source] ?? 0;
    return { source, selected, ofSubset: share(selected, subsetTotal), pool: inPool, ofPool: share(inPool, poolTotal), kept: share(selected, inPool) };
  });
}

export function compositionChart(title: string, shares: SourceShare[], subsetName = 'subset'): string {
  return barChart({
    title,
    categories: shares.map((s) => s.source),
    series: [
      { name: subsetName, values: shares.map((s) => (s.ofSubset ?? NaN) * 100) },
      { name: 'pool', values: shares.map((s) => (s.ofPool ?? NaN) * 100) },
    ],
    valueLabel: 'share of images (%)',
    unit: '%',
  });
}
