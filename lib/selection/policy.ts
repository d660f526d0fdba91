import { RetrievalInputError } from '../retrieval/errors';
import type { CandidateHits, Candidates, SelectedSample, Selection, SelectionPolicy } from './types';

export interface Exclusions {
  /** Pool ids the leakage guard excludes. */
  leaked: Set<string>;
  /** Ids of target train and test images: never part of the subset. */
  targetIds: Set<string>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether the policy selects up to `retrieval.budget` images (every policy but the union of top-k lists). */
export const usesBudget = (policy: Pick<SelectionPolicy, 'policy'>) => policy.policy !== 'topk-per-target';

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

/**
 * The diverse policy's fair shares: budget / targets each, the remainder one each to the first
 * targets by id, capped by `cap`.
 */
function fairShares(ids: string[], budget: number, cap: number): Uint32Array {
  const shares = new Uint32Array(ids.length).fill(Math.min(cap, Math.floor(budget / ids.length)));
  const byId = Uint32Array.from({ length: ids.length }, (_, i) => i).sort((a, b) => cmp(ids[a], ids[b]));
  for (let i = 0; i < budget % ids.length; i++) shares[byId[i]] = Math.min(cap, shares[byId[i]] + 1);
  return shares;
}

/** The run's start refuses what no selection could satisfy, naming the field. */
export function validatePolicy(policy: SelectionPolicy, targetCount: number, poolSize: number): void {
  if (targetCount === 0) throw new RetrievalInputError('selection: the target set is empty');
  if (!Number.isInteger(policy.k) || policy.k <= 0) throw new RetrievalInputError(`retrieval.k must be a positive integer, got ${policy.k}`);
  if (policy.k > poolSize) throw new RetrievalInputError(`retrieval.k (${policy.k}) is larger than the pool (${poolSize} vectors)`);
  if (usesBudget(policy)) {
    if (!Number.isInteger(policy.budget) || policy.budget <= 0) throw new RetrievalInputError(`retrieval.budget must be a positive integer, got ${policy.budget}`);
    if (policy.budget > poolSize) throw new RetrievalInputError(`retrieval.budget (${policy.budget}) is larger than the pool (${poolSize} vectors)`);
  }
  const cap = policy.perTargetCap;
  if (cap !== undefined) {
    if (!Number.isInteger(cap) || cap <= 0) throw new RetrievalInputError(`retrieval.perTargetCap must be a positive integer, got ${cap}`);
    if (policy.policy !== 'budget' && policy.policy !== 'diverse') throw new RetrievalInputError(`retrieval.perTargetCap applies to the budget and diverse policies, not ${policy.policy}`);
    if (cap * targetCount < policy.budget) {
      throw new RetrievalInputError(`retrieval.perTargetCap (${cap}) x ${targetCount} train targets is less than retrieval.budget (${policy.budget}): raise the cap or lower the budget`);
    }
  }
  if (policy.balanceClasses && (policy.policy === 'diverse' || policy.policy === 'cluster')) {
    throw new RetrievalInputError(`retrieval.balanceClasses applies to the budget policy; ${policy.policy} shares the budget by target (diverse) or by cluster (cluster)`);
  }
  if (policy.policy === 'cluster') {
    if (policy.minSimilarity !== undefined) throw new RetrievalInputError('retrieval.minSimilarity applies to the rank-walk policies; the cluster policy draws images no target retrieved');
    const c = policy.cluster;
    if (!c) throw new RetrievalInputError('retrieval.cluster is missing: the cluster policy needs its parameters');
    for (const field of ['clusters', 'sampleRows', 'iterations'] as const) {
      if (!Number.isInteger(c[field]) || c[field] <= 0) throw new RetrievalInputError(`retrieval.cluster.${field} must be a positive integer, got ${c[field]}`);
    }
    if (c.clusters > poolSize) throw new RetrievalInputError(`retrieval.cluster.clusters (${c.clusters}) is larger than the pool (${poolSize} vectors)`);
    if (c.sampleRows < c.clusters) throw new RetrievalInputError(`retrieval.cluster.sampleRows (${c.sampleRows}) is less than retrieval.cluster.clusters (${c.clusters})`);
  }
}

/** What the explain pass counts over every train hit within k. */
export type HitCounts = Pick<Selection, 'targetImagesDropped' | 'belowMinSimilarity' | 'hitsOffered'>;

/** The cosine distance beyond which the policy never selects a neighbour. */
const maxDistanceOf = (policy: Pick<SelectionPolicy, 'minSimilarity'>) => (policy.minSimilarity === undefined ? Infinity : 1 - policy.minSimilarity);

/**
 * Explains every selected sample by all the hits it got, not only the one that took it (hit count,
 * best rank, closest target), and counts over all candidates, whether or not a walk reached them,
 * the hits the filters drop and those left on offer. One streamed pass over the hits.
 */
export async function explainSelected(candidates: Candidates, policy: Pick<SelectionPolicy, 'k' | 'minSimilarity'>, exclusions: Exclusions, taken: Map<string, SelectedSample>): Promise<HitCounts> {
  const maxDistance = maxDistanceOf(policy);
  const { ids, labels } = candidates.targets;
  const counts: HitCounts = { targetImagesDropped: 0, belowMinSimilarity: 0, hitsOffered: 0 };
  for await (const h of candidates.hits()) {
    for (let i = 0; i < h.poolId.length; i++) {
      if (h.rank[i] > policy.k) continue;
      if (exclusions.targetIds.has(h.poolId[i])) {
        counts.targetImagesDropped++;
        continue;
      }
      if (h.distance[i] > maxDistance) {
        counts.belowMinSimilarity++;
        continue;
      }
      if (exclusions.leaked.has(h.poolId[i])) continue;
      counts.hitsOffered++;
      const s = taken.get(h.poolId[i]);
      if (!s) continue;
      const targetId = ids[h.target[i]];
      s.hitCount++;
      if (s.bestRank === 0 || h.rank[i] < s.bestRank) s.bestRank = h.rank[i];
      if (h.distance[i] < s.distance || (h.distance[i] === s.distance && targetId < s.closestTarget)) {
        s.closestTarget = targetId;
        s.closestLabel = labels[h.target[i]];
        s.distance = h.distance[i];
      }
    }
  }
  return counts;
}

/**
 * Selects the pre-training subset from the train targets' hits by a rank walk (every target's
 * rank-1 neighbour, then every rank-2 neighbour, ..., in policyOrder within a rank):
 * - `budget` takes distinct images until K are taken, so every target is represented before any
 *   target gets a second image;
 * - `diverse` first gives each target its fair share of the budget: a target whose neighbour
 *   another target already claimed walks further down its own list (within k) until it has claimed
 *   its share of images nobody else claimed; then a top-up walk hands the shares of targets that ran
 *   out to the others;
 * - `topk-per-target` takes the union of all top-k lists.
 * `perTargetCap` bounds what one target claims in every walk. Memory: one rank of hits, per-target
 * counters and the selection. The cluster policy is cluster-policy.ts's.
 */
export async function selectByPolicy(candidates: Candidates, policy: SelectionPolicy, exclusions: Exclusions): Promise<Selection> {
  const maxDistance = maxDistanceOf(policy);
  const eligible = (poolId: string, distance: number) => !exclusions.targetIds.has(poolId) && distance <= maxDistance && !exclusions.leaked.has(poolId);
  const { ids, labels } = candidates.targets;
  const budget = usesBudget(policy) ? policy.budget : Infinity;
  const cap = policy.perTargetCap ?? Infinity;
  const claimed = new Uint32Array(ids.length);
  const taken = new Map<string, SelectedSample>();
  const take = (h: CandidateHits, i: number) => {
    claimed[h.target[i]]++;
    taken.set(h.poolId[i], { poolId: h.poolId[i], hitCount: 0, bestRank: h.rank[i], closestTarget: ids[h.target[i]], closestLabel: labels[h.target[i]], distance: h.distance[i], order: taken.size });
  };
  /** Offers the eligible candidates in policy order until `visit` says the selection is full. */
  const walk = async (visit: (h: CandidateHits, i: number) => boolean) => {
    for (let rank = 1; rank <= policy.k; rank++) {
      const round = await candidates.round(rank);
      for (const i of policyOrder(round, ids)) if (eligible(round.poolId[i], round.distance[i]) && !visit(round, i)) return;
    }
  };
  /** A walk in which target t takes unclaimed images while it has claimed fewer than `limit(t)`. */
  const claimWalk = (limit: (target: number) => number) =>
    walk((h, i) => {
      if (!taken.has(h.poolId[i]) && claimed[h.target[i]] < limit(h.target[i])) take(h, i);
      return taken.size < budget;
    });

  if (policy.balanceClasses && budget !== Infinity) {
    const quota = classQuotas(labels, budget);
    await walk((h, i) => {
      const label = labels[h.target[i]] ?? '';
      const left = quota.get(label) ?? 0;
      if (left > 0 && !taken.has(h.poolId[i]) && claimed[h.target[i]] < cap) {
        take(h, i);
        quota.set(label, left - 1);
      }
      return taken.size < budget;
    });
  }
  if (policy.policy === 'diverse' && taken.size < budget) {
    const shares = fairShares(ids, budget, cap);
    await claimWalk((t) => shares[t]);
  }
  // The budget and union walks; the top-up after classes or targets that ran out of candidates.
  if (taken.size < budget) await claimWalk(() => cap);

  const counts = await explainSelected(candidates, policy, exclusions, taken);
  return {
    samples: [...taken.values()],
    leakageExcluded: exclusions.leaked.size,
    ...counts,
    shortfall: budget === Infinity ? 0 : Math.max(0, budget - taken.size),
  };
}
