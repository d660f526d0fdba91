import { MAX_PASS_ACTIVITIES } from '../config/work-limits';

/**
 * Shards one activity of a read pass over the pool reads (the census's counts, a pool sample's
 * ranks), where the plan has few enough: minutes of reading for shards of ten thousand images.
 * Pure (no node: imports): workflows page their plans with it.
 */
export const PASS_PAGE_SHARDS = 8;

/** A read pass's pages of a shard plan: how many, and how many shards each (the last may hold fewer). */
export interface PassPages {
  count: number;
  shards: number;
}

/** Pages of PASS_PAGE_SHARDS, or larger where the plan would need more than MAX_PASS_ACTIVITIES pages. */
export function passPages(totalShards: number): PassPages {
  const shards = Math.max(PASS_PAGE_SHARDS, Math.ceil(totalShards / MAX_PASS_ACTIVITIES));
  return { count: Math.ceil(totalShards / shards), shards };
}
