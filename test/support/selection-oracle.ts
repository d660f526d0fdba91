import type { RunConfig } from '../../lib/config/schema';
import { compareNeighbours, type Neighbour } from '../../lib/retrieval/running-topk';
import { seededRandom } from '../../lib/retrieval/synthetic';
import type { TargetInstance } from '../../lib/selection/target-set';
import type { SelectedSample, Selection, TargetNeighbours } from '../../lib/selection/types';

export interface SyntheticHits {
  /** Train then test, in the order the search chunks them. */
  targets: TargetInstance[];
  targetChunk: number;
  /** `hits[c][p]`: what the search activity of target chunk c and pool partition p wrote. */
  hits: TargetNeighbours[][][];
}

const CLASSES = 7;

/**
 * Search hits as the search activities write them, drawn to stress the merge and the policy: pool
 * ids shared by many targets, distances on a 0.01 grid (ties everywhere), a pool id found again in
 * another partition at another distance (a duplicated attempt), hits that are target images, short
 * lists, classes of unequal size, and test targets with near duplicates (some with nothing else).
 */
export function syntheticHits(opts: { train: number; test: number; k: number; chunks: number; partitions: number; poolIds: string[]; seed?: number }): SyntheticHits {
  const { k, partitions, poolIds } = opts;
  const random = seededRandom(opts.seed ?? 11);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const targets: TargetInstance[] = [
    ...Array.from({ length: opts.train }, (_, i) => ({ id: `digits/train-${String(i).padStart(6, '0')}`, label: `c${Math.floor(random() ** 2 * CLASSES)}`, split: 'train' as const })),
    ...Array.from({ length: opts.test }, (_, i) => ({ id: `digits/test-${String(i).padStart(6, '0')}`, label: `c${i % CLASSES}`, split: 'test' as const })),
  ];
  const targetChunk = Math.ceil(targets.length / opts.chunks);
  const hits = Array.from({ length: opts.chunks }, (_, c) => {
    const chunk = targets.slice(c * targetChunk, (c + 1) * targetChunk);
    const lists = chunk.map((t) => {
      const home = Math.floor(random() * poolIds.length);
      const length = random() < 0.01 ? Math.floor(k / 4) : k;
      const near = t.split === 'test' ? (random() < 0.02 ? length : random() < 0.3 ? 3 : 0) : 0;
      return Array.from({ length: partitions }, (_, p) => {
        const byPool = new Map<string, number>();
        while (byPool.size < length) {
          // Partition p holds the pool ids at positions p mod partitions: disjoint, like pool shards.
          const at = (home + Math.floor(random() * 40 * k)) % poolIds.length;
          const poolId = random() < 0.003 ? pick(targets).id : poolIds[at - (at % partitions) + p] ?? poolIds[p];
          byPool.set(poolId, Math.round(byPool.size < near ? random() * 2 : random() * 60) / 100);
        }
        return [...byPool].map(([poolId, distance]) => ({ poolId, distance }));
      });
    });
    for (const perPartition of lists) {
      // A pool id of partition 0 found again by the last partition, at another distance.
      if (partitions > 1 && random() < 0.05) perPartition[partitions - 1].push(...perPartition[0].slice(0, 3).map((n) => ({ poolId: n.poolId, distance: Math.round(random() * 60) / 100 })));
    }
    return Array.from({ length: partitions }, (_, p) => chunk.map((t, i) => ({ targetId: t.id, neighbours: topK(lists[i][p], k) })));
  });
  return { targets, targetChunk, hits };
}

/** A search activity's list: distinct pool ids at their smallest distance, nearest first, k of them. */
function topK(found: Neighbour[], k: number): Neighbour[] {
  const best = new Map<string, number>();
  for (const n of found) best.set(n.poolId, Math.min(n.distance, best.get(n.poolId) ?? Infinity));
  return [...best].map(([poolId, distance]) => ({ poolId, distance })).sort(compareNeighbours).slice(0, k);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Each target's top-k as 0.4.0 merged them: every hit of every chunk and partition in memory at once. */
export function oracleMerge(data: SyntheticHits, k: number): Map<string, Neighbour[]> {
  const found = new Map<string, Neighbour[]>();
  for (const t of data.hits.flat(2)) found.set(t.targetId, [...(found.get(t.targetId) ?? []), ...t.neighbours]);
  return new Map([...found].map(([targetId, all]) => [targetId, topK(all, k)]));
}

/**
 * The selection as septflow computed it from the merged lists in memory (0.4.0's leakage guard
 * and policy, written plainly): the reference that the bounded-memory selection must equal.
 */
export function oracleSelection(data: SyntheticHits, merged: Map<string, Neighbour[]>, retrieval: RunConfig['retrieval']): { selection: Selection; saturated: number } {
  const listsOf = (split: string) => data.targets.filter((t) => t.split === split).map((t) => ({ targetId: t.id, label: t.label, neighbours: merged.get(t.id) ?? [] }));

  const leaked = new Set<string>();
  let saturated = 0;
  for (const t of retrieval.leakageGuard.enabled ? listsOf('test') : []) {
    const within = t.neighbours.filter((n) => n.distance <= 1 - retrieval.leakageGuard.threshold);
    for (const n of within) leaked.add(n.poolId);
    if (within.length > 0 && within.length === t.neighbours.length) saturated++;
  }
  const targetIds = new Set(data.targets.map((t) => t.id));
  const train = listsOf('train');
  const maxDistance = retrieval.minSimilarity === undefined ? Infinity : 1 - retrieval.minSimilarity;
  let targetImagesDropped = 0;
  let belowMinSimilarity = 0;
  const candidates: { poolId: string; distance: number; targetId: string; label?: string; rank: number }[] = [];
  for (let rank = 1; rank <= retrieval.k; rank++) {
    const round: typeof candidates = [];
    for (const t of train) {
      const n = t.neighbours[rank - 1];
      if (n) round.push({ poolId: n.poolId, distance: n.distance, targetId: t.targetId, label: t.label, rank });
    }
    round.sort((a, b) => a.distance - b.distance || cmp(a.targetId, b.targetId) || cmp(a.poolId, b.poolId));
    for (const c of round) {
      if (targetIds.has(c.poolId)) targetImagesDropped++;
      else if (c.distance > maxDistance) belowMinSimilarity++;
      else if (!leaked.has(c.poolId)) candidates.push(c);
    }
  }
  const budget = retrieval.policy === 'budget' ? retrieval.budget : Infinity;
  const taken = new Map<string, SelectedSample>();
  const take = (c: (typeof candidates)[number]) =>
    taken.set(c.poolId, { poolId: c.poolId, hitCount: 0, bestRank: c.rank, closestTarget: c.targetId, closestLabel: c.label, distance: c.distance, order: taken.size });
  if (retrieval.balanceClasses && budget !== Infinity) {
    const classes = [...new Set(train.map((t) => t.label ?? ''))].sort(cmp);
    const quota = new Map(classes.map((c, i) => [c, Math.floor(budget / classes.length) + (i < budget % classes.length ? 1 : 0)]));
    for (const c of candidates) {
      const left = quota.get(c.label ?? '') ?? 0;
      if (taken.size < budget && left > 0 && !taken.has(c.poolId)) {
        take(c);
        quota.set(c.label ?? '', left - 1);
      }
    }
  }
  for (const c of candidates) if (taken.size < budget && !taken.has(c.poolId)) take(c);
  for (const c of candidates) {
    const s = taken.get(c.poolId);
    if (!s) continue;
    s.hitCount++;
    s.bestRank = Math.min(s.bestRank, c.rank);
    if (c.distance < s.distance || (c.distance === s.distance && c.targetId < s.closestTarget)) Object.assign(s, { closestTarget: c.targetId, closestLabel: c.label, distance: c.distance });
  }
  const selection = { samples: [...taken.values()], leakageExcluded: leaked.size, targetImagesDropped, belowMinSimilarity, shortfall: budget === Infinity ? 0 : Math.max(0, budget - taken.size), hitsOffered: candidates.length };
  return { selection, saturated };
}
