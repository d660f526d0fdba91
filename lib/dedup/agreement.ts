import type { DuplicateGroup } from './components';

/** A known near-duplicate: `copy` was made from `original` (sample ids). */
export interface KnownCopy {
  copy: string;
  original: string;
}

export interface DuplicateAgreement {
  /** Known copies put in their original's group, over the known copies. */
  recall: number;
  /** Removed images that share their group with a known relative (their original, a copy of theirs or of their original), over the removed images. */
  precision: number;
  knownCopies: number;
  copiesFound: number;
  removed: number;
  removedCorrectly: number;
}

/**
 * How deduplication's groups agree with known near-duplicates (the demo pool's planted copies).
 * Recall counts a known copy found when it is in the same group as its original. Precision counts a
 * removed image (a non-representative member) right when its group holds another image of its
 * family: the original and its copies. Which one of a family is kept does not matter. An empty
 * denominator gives 1 (nothing to find, nothing wrongly removed).
 */
export function nearDuplicateAgreement(groups: Iterable<DuplicateGroup>, knownPairs: Iterable<KnownCopy>): DuplicateAgreement {
  const originalOf = new Map<string, string>();
  const pairs: KnownCopy[] = [];
  for (const pair of knownPairs) {
    pairs.push(pair);
    originalOf.set(pair.copy, pair.original);
  }
  // A family is named by its first original: a copy of a copy belongs to its original's original.
  const family = new Map<string, string>();
  for (const id of [...originalOf.keys(), ...originalOf.values()]) {
    let root = id;
    for (let hops = 0; originalOf.has(root) && hops <= originalOf.size; hops++) root = originalOf.get(root)!;
    family.set(id, root);
  }
  const groupOf = new Map<string, number>();
  let removed = 0;
  let removedCorrectly = 0;
  let g = 0;
  for (const group of groups) {
    const families = new Map<string, number>();
    for (const id of group.members) {
      groupOf.set(id, g);
      const f = family.get(id);
      if (f !== undefined) families.set(f, (families.get(f) ?? 0) + 1);
    }
    for (const id of group.members) {
      if (id === group.representative) continue;
      removed++;
      const f = family.get(id);
      if (f !== undefined && families.get(f)! > 1) removedCorrectly++;
    }
    g++;
  }
  const copiesFound = pairs.filter((p) => groupOf.has(p.copy) && groupOf.get(p.copy) === groupOf.get(p.original)).length;
  return {
    recall: pairs.length === 0 ? 1 : copiesFound / pairs.length,
    precision: removed === 0 ? 1 : removedCorrectly / removed,
    knownCopies: pairs.length,
    copiesFound,
    removed,
    removedCorrectly,
  };
}
