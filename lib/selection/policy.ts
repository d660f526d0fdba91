import { RetrievalInputError } from '../retrieval/errors';
import type { SelectedSample, Selection, SelectionPolicy, TargetNeighbours } from './types';

interface Candidate {
  poolId: string;
  targetId: string;
  label?: string;
  rank: number;
  distance: number;
}

export interface Exclusions {
  /** Pool ids the leakage guard excludes. */
  leaked: Set<string>;
  /** Ids of target train and test images: never part of the subset. */
  targetIds: Set<string>;
}

/**
 * Candidates in the order the paper's budget policy takes them: every target's rank-1 neighbour,
 * then every rank-2 neighbour, and so on; within a rank, nearest first, then by target and pool id,
 * so the order (and any budget cut) is the same on every run.
 */
function candidateOrder(targets: TargetNeighbours[], k: number): Candidate[] {
  const out: Candidate[] = [];
  for (let rank = 1; rank <= k; rank++) {
    const round: Candidate[] = [];
    for (const t of targets) {
      const n = t.neighbours[rank - 1];
      if (n) round.push({ poolId: n.poolId, targetId: t.targetId, label: t.label, rank, distance: n.distance });
    }
    round.sort((a, b) => a.distance - b.distance || cmp(a.targetId, b.targetId) || cmp(a.poolId, b.poolId));
    for (const c of round) out.push(c);
  }
  return out;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Per-class quotas that sum to the budget: equal shares, the remainder to the first classes by name. */
function classQuotas(targets: TargetNeighbours[], budget: number): Map<string, number> {
  const classes = [...new Set(targets.map((t) => t.label ?? ''))].sort(cmp);
  const base = Math.floor(budget / classes.length);
  return new Map(classes.map((c, i) => [c, base + (i < budget % classes.length ? 1 : 0)]));
}

export function validatePolicy(policy: SelectionPolicy, targetCount: number, poolSize: number): void {
  if (targetCount === 0) throw new RetrievalInputError('selection: the target set is empty');
  if (!Number.isInteger(policy.k) || policy.k <= 0) throw new RetrievalInputError(`retrieval.k must be a positive integer, got ${policy.k}`);
  if (policy.k > poolSize) throw new RetrievalInputError(`retrieval.k (${policy.k}) is larger than the pool (${poolSize} vectors)`);
  if (policy.policy === 'budget') {
    if (!Number.isInteger(policy.budget) || policy.budget <= 0) throw new RetrievalInputError(`retrieval.budget must be a positive integer, got ${policy.budget}`);
    if (policy.budget > poolSize) throw new RetrievalInputError(`retrieval.budget (${policy.budget}) is larger than the pool (${poolSize} vectors)`);
  }
}

/**
 * Selects the pre-training subset from each train target's neighbours. `budget` walks the
 * candidates rank by rank until K distinct images are taken, so every target is represented
 * before any target gets a second image; `topk-per-target` takes the union of all top-k lists.
 */
export function selectByPolicy(targets: TargetNeighbours[], policy: SelectionPolicy, exclusions: Exclusions): Selection {
  const maxDistance = policy.minSimilarity === undefined ? Infinity : 1 - policy.minSimilarity;
  let targetImagesDropped = 0;
  let belowMinSimilarity = 0;
  const candidates = candidateOrder(targets, policy.k).filter((c) => {
    if (exclusions.targetIds.has(c.poolId)) {
      targetImagesDropped++;
      return false;
    }
    if (c.distance > maxDistance) {
      belowMinSimilarity++;
      return false;
    }
    return !exclusions.leaked.has(c.poolId);
  });

  const budget = policy.policy === 'budget' ? policy.budget : Infinity;
  const taken = new Map<string, SelectedSample>();
  const take = (c: Candidate) => taken.set(c.poolId, { poolId: c.poolId, hitCount: 0, bestRank: c.rank, closestTarget: c.targetId, closestLabel: c.label, distance: c.distance, order: taken.size });
  if (policy.balanceClasses && budget !== Infinity) {
    const quota = classQuotas(targets, budget);
    for (const c of candidates) {
      const left = quota.get(c.label ?? '') ?? 0;
      if (taken.size >= budget || left === 0 || taken.has(c.poolId)) continue;
      take(c);
      quota.set(c.label ?? '', left - 1);
    }
  }
  // Unbalanced selection, or the top-up after classes that ran out of candidates.
  for (const c of candidates) {
    if (taken.size >= budget) break;
    if (!taken.has(c.poolId)) take(c);
  }

  // Explain every selected sample by all the hits it got, not only the one that took it.
  for (const c of candidates) {
    const s = taken.get(c.poolId);
    if (!s) continue;
    s.hitCount++;
    if (c.rank < s.bestRank) s.bestRank = c.rank;
    if (c.distance < s.distance || (c.distance === s.distance && c.targetId < s.closestTarget)) {
      s.closestTarget = c.targetId;
      s.closestLabel = c.label;
      s.distance = c.distance;
    }
  }
  return {
    samples: [...taken.values()],
    leakageExcluded: exclusions.leaked.size,
    targetImagesDropped,
    belowMinSimilarity,
    shortfall: budget === Infinity ? 0 : Math.max(0, budget - taken.size),
  };
}
