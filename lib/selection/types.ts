import type { Neighbour } from '../retrieval/running-topk';

/** A target instance with its retrieved pool neighbours, nearest first (rank 1 = index 0). */
export interface TargetNeighbours {
  targetId: string;
  /** Target class; balance and per-class stats use it. */
  label?: string;
  neighbours: Neighbour[];
}

/** Train hits as columns: row i is target `target[i]`'s rank `rank[i]` neighbour `poolId[i]` at `distance[i]`. */
export interface CandidateHits {
  /** Index of the hit's target in `Candidates.targets`. */
  target: Int32Array;
  poolId: string[];
  rank: Int32Array;
  distance: Float64Array;
}

/**
 * The train targets' hits as the selection policy reads them: one rank of every target at a time
 * (its walk stops when the budget is full), and all of them once, in any order (to explain the taken
 * samples). Typed columns, so a rank of a million targets is a few arrays, not a million objects.
 */
export interface Candidates {
  targets: { ids: string[]; labels: (string | undefined)[] };
  /** Rank `rank`'s hit of every train target that has one, in any order. */
  round(rank: number): Promise<CandidateHits>;
  /** Every train hit, in batches of any order. */
  hits(): AsyncIterable<CandidateHits>;
}

/** The cluster policy's k-means of the pool (lib/selection/kmeans.ts) and its draw. */
export interface ClusterParams {
  /** Centroids of the spherical k-means. */
  clusters: number;
  /** Pool rows (a seeded random sample) the k-means is fitted on. */
  sampleRows: number;
  /** Lloyd iterations at most (fewer once no assignment changes). */
  iterations: number;
  /** Seeds the sample, the k-means++ initialisation and the draw. */
  seed: number;
}

export type PolicyName = 'budget' | 'topk-per-target' | 'diverse' | 'cluster';

export interface SelectionPolicy {
  policy: PolicyName;
  /** Total images for `budget`, `diverse` and `cluster`; ignored by `topk-per-target`. */
  budget: number;
  /** Neighbours per target considered (ranks 1..k). */
  k: number;
  /** Neighbours less similar than this (cosine) are never selected. */
  minSimilarity?: number;
  /** Split the budget evenly across target classes (leftovers go to classes that can still fill). */
  balanceClasses: boolean;
  /** Images one target may claim at most in the rank walks of `budget` and `diverse`. */
  perTargetCap?: number;
  /** The `cluster` policy's parameters (absent in configurations resolved before it existed). */
  cluster?: ClusterParams;
}

/** Why each selected pool sample is in the subset. */
export interface SelectedSample {
  poolId: string;
  /** Targets that retrieved it within their top k. */
  hitCount: number;
  /** Its best rank in any target's list (1 = some target's nearest neighbour); 0 when no target retrieved it (the cluster policy's draw). */
  bestRank: number;
  /**
   * The target it is closest to, that target's class and the cosine distance: over the targets that
   * retrieved it, and for the cluster policy also over the train targets of its cluster.
   */
  closestTarget: string;
  closestLabel?: string;
  distance: number;
  /** The order in which the policy took it (0 first): a budget cut keeps a prefix. */
  order: number;
}

export interface Selection {
  samples: SelectedSample[];
  /** Distinct pool samples within the leakage threshold of a target test image. */
  leakageExcluded: number;
  /** Candidate hits dropped because the pool sample is a target train or test image itself. */
  targetImagesDropped: number;
  /** Candidate hits dropped by the similarity threshold. */
  belowMinSimilarity: number;
  /** Budget not reached because the candidates ran out (raise k to fill it). */
  shortfall: number;
  /**
   * Train hits within k that the policy could take: not target images, not below minSimilarity,
   * not leaked. Selected images over this is the stats' collision figure (distinctPerHit).
   */
  hitsOffered: number;
}
