/** One group of near-duplicates: its representative (the one kept) and every member, representative first. */
export interface DuplicateGroup {
  representative: string;
  /** Sorted by id: the representative, then the copies that deduplication removes. */
  members: string[];
}

/**
 * Connected components of the near-duplicate graph, built from its edges as they stream in (any
 * order, any batching): a union-find over the ids that have an edge, so memory grows with the rows
 * that have a duplicate, never with the pool. Each root is the smallest id of its component, which
 * makes it the group's representative: the kept image is the same whatever the order of the edges.
 */
export class DuplicateComponents {
  private readonly parent = new Map<string, string>();

  /** Rows that have at least one edge. */
  get rows(): number {
    return this.parent.size;
  }

  /** Adds the edge a–b (a self pair adds nothing). */
  link(a: string, b: string): void {
    if (a === b) return;
    const ra = this.root(a);
    const rb = this.root(b);
    if (ra === rb) return;
    // The smaller id stays the root: the component's root is always its smallest member.
    if (ra < rb) this.parent.set(rb, ra);
    else this.parent.set(ra, rb);
  }

  /** The representative (smallest id) of a's component. */
  root(a: string): string {
    let parent = this.parent.get(a);
    if (parent === undefined) {
      this.parent.set(a, a);
      return a;
    }
    let node = a;
    // Path halving: each step points a node at its grandparent, so later finds are short.
    while (parent !== node) {
      const grand = this.parent.get(parent)!;
      this.parent.set(node, grand);
      node = grand;
      parent = this.parent.get(node)!;
    }
    return node;
  }

  /** Every group of two or more, ordered by representative; members sorted by id. */
  groups(): DuplicateGroup[] {
    const byRoot = new Map<string, string[]>();
    for (const id of this.parent.keys()) {
      const r = this.root(id);
      (byRoot.get(r) ?? byRoot.set(r, []).get(r)!).push(id);
    }
    return [...byRoot]
      .filter(([, members]) => members.length > 1)
      .map(([representative, members]) => ({ representative, members: members.sort(compareIds) }))
      .sort((a, b) => compareIds(a.representative, b.representative));
  }
}

/** Sample ids in code-unit order: the order of the representative rule and of every listing. */
export const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
