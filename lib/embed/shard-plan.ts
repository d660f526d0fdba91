import type { SourceSpec } from '../config/sources';
import { listAllShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';
import { readLocationText, writeLocation } from '../storage/location';

/** The pool's shards, listed once into a file: workflows page through it instead of carrying 100,000 refs. */
export interface ShardPlan {
  /** Its location (lib/storage/location.ts): a local path, or an object that workers read through their caches. */
  path: string;
  total: number;
}

export async function writeShardPlan(sources: SourceSpec[], path: string): Promise<ShardPlan> {
  const shards = await listAllShards(sources);
  await writeLocation(path, shards.map((s) => JSON.stringify(s)).join('\n') + '\n');
  return { path, total: shards.length };
}

/** Shards [offset, offset + limit) of a plan. */
export async function readShardPlanPage(plan: ShardPlan, offset: number, limit: number): Promise<ShardRef[]> {
  const text = await readLocationText(plan.path);
  if (text === undefined) throw new Error(`the pool's shard plan ${plan.path} is gone: start the run again to list the pool anew`);
  const lines = text.split('\n', offset + limit);
  return lines.slice(offset).filter((l) => l !== '').map((l) => JSON.parse(l) as ShardRef);
}
