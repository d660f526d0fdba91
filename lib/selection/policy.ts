import { RetrievalInputError } from '../retrieval/errors';
import type { CandidateHits, Candidates, SelectedSample, Selection, SelectionPolicy } from './types';

export interface Exclusions {
  /** Pool ids the leakage guard excludes. */
  leaked: Set<string>;
  /** Ids of target train and test images: never part of the subset. */
  targetIds: Set<string>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A rank's hits in the order the paper's budget policy takes them: nearest first, then by target
 * and pool id, so the order (and any budget cut) is the same on every run.
 */
function policyOrder(round: CandidateHits, targetIds: string[]): Uint32Array {
  const { target, poolId, distance } = round;
  return Uint32Array.from({ length: poolId.length }, (_, i) => i).sort(
    (a, b) => distance[a] - distance[b] || cmp(targetIds[target[a]], targetIds[target[b]]) || cmp(poolId[a], poolId[b]),
  );
}

/** Per-class quotas that sum to the budget: equal shares, the remainder to the first classes by name. */
function classQuotas(labels: (string | undefined)[], budget: number): Map<string, number> {
  const classes = [...new Set(labels.map((l) => l ?? ''))].sort(cmp);
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
 * Selects the pre-training subset from the train targets' hits. `budget` walks the candidates rank
 * by rank (every target's rank-1 neighbour, then every rank-2 neighbour, ...) until K distinct images
 * are taken, so every target is represented before any target gets a second image;
 * `topk-per-target` takes the union of all top-k lists. Memory: one rank of hits and the selection.
 */
export async function selectByPolicy(candidates: Candidates, policy: SelectionPolicy, exclusions: Exclusions): Promise<Selection> {
  const maxDistance = policy.minSimilarity === undefined ? Infinity : 1 - policy.minSimilarity;
  const eligible = (poolId: string, distance: number) => !exclusions.targetIds.has(poolId) && distance <= maxDistance && !exclusions.leaked.has(poolId);
  const { ids, labels } = candidates.targets;
  const budget = policy.policy === 'budget' ? policy.budget : Infinity;
  const taken = new Map<string, SelectedSample>();
  const take = (h: CandidateHits, i: number) =>
    taken.set(h.poolId[i], { poolId: h.poolId[i], hitCount: 0, bestRank: h.rank[i], closestTarget: ids[h.target[i]], closestLabel: labels[h.target[i]], distance: h.distance[i], order: taken.size });
  /** Offers the eligible candidates in policy order until `visit` says the selection is full. */
  const walk = async (visit: (h: CandidateHits, i: number) => boolean) => {
    for (let rank = 1; rank <= policy.k; rank++) {
      const round = await candidates.round(rank);
      for (const i of policyOrder(round, ids)) if (eligible(round.poolId[i], round.distance[i]) && !visit(round, i)) return;
    }
  };

  if (policy.balanceClasses && budget !== Infinity) {
    const quota = classQuotas(labels, budget);
    await walk((h, i) => {
      const label = labels[h.target[i]] ?? '';
      const left = quota.get(label) ?? 0;
      if (left > 0 && !taken.has(h.poolId[i])) {
        take(h, i);
        quota.set(label, left - 1);
      }
      return taken.size < budget;
    });
  }
  // Unbalanced selection, or the top-up after classes that ran out of candidates.
  if (taken.size < budget) {
    await walk((h, i) => {
      if (!taken.has(h.poolId[i])) take(h, i);
      return taken.size < budget;
    });
  }

  // Explain every selected sample by all the hits it got, not only the one that took it; count the
  // hits the filters drop, over all candidates, whether or not the walk reached them.
  let targetImagesDropped = 0;
  let belowMinSimilarity = 0;
  for await (const h of candidates.hits()) {
    for (let i = 0; i < h.poolId.length; i++) {
      if (h.rank[i] > policy.k) continue;
      if (exclusions.targetIds.has(h.poolId[i])) {
        targetImagesDropped++;
        continue;
      }
      if (h.distance[i] > maxDistance) {
        belowMinSimilarity++;
        continue;
      }
      // A leaked image is never taken: no check needed here.
      const s = taken.get(h.poolId[i]);
      if (!s) continue;
      const targetId = ids[h.target[i]];
      s.hitCount++;
      if (h.rank[i] < s.bestRank) s.bestRank = h.rank[i];
      if (h.distance[i] < s.distance || (h.distance[i] === s.distance && targetId < s.closestTarget)) {
        s.closestTarget = targetId;
        s.closestLabel = labels[h.target[i]];
        s.distance = h.distance[i];
      }
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
