import type { CandidateHits, Candidates, TargetNeighbours } from '../../lib/selection/types';

/** Train targets' neighbour lists held in memory, read the way the policy reads the merged hits table. */
export function candidateLists(targets: TargetNeighbours[]): Candidates {
  // The hits named by (target index, rank) pairs, as columns.
  const columns = (target: Int32Array, rank: Int32Array): CandidateHits => {
    const poolId = new Array<string>(target.length);
    const distance = new Float64Array(target.length);
    for (let i = 0; i < target.length; i++) {
      const hit = targets[target[i]].neighbours[rank[i] - 1];
      poolId[i] = hit.poolId;
      distance[i] = hit.distance;
    }
    return { target, poolId, rank, distance };
  };
  return {
    targets: { ids: targets.map((t) => t.targetId), labels: targets.map((t) => t.label) },
    round: async (rank) => {
      const target = Int32Array.from(targets.flatMap((t, i) => (rank <= t.neighbours.length ? [i] : [])));
      return columns(target, new Int32Array(target.length).fill(rank));
    },
    async *hits() {
      const target = Int32Array.from(targets.flatMap((t, i) => t.neighbours.map(() => i)));
      const rank = Int32Array.from(targets.flatMap((t) => t.neighbours.map((_, r) => r + 1)));
      yield columns(target, rank);
    },
  };
}
