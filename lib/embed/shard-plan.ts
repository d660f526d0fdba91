import { readFile } from 'node:fs/promises';
import type { SourceSpec } from '../config/sources';
import { writeFileAtomic } from '../files/atomic-write';
import { listAllShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';

/** The pool's shards, listed once into a file: workflows page through it instead of carrying 100,000 refs. */
export interface ShardPlan {
  path: string;
  total: number;
}

export async function writeShardPlan(sources: SourceSpec[], path: string): Promise<ShardPlan> {
  const shards = await listAllShards(sources);
  await writeFileAtomic(path, shards.map((s) => JSON.stringify(s)).join('\n') + '\n');
  return { path, total: shards.length };
}

/** Shards [offset, offset + limit) of a plan. */
export async function readShardPlanPage(plan: ShardPlan, offset: number, limit: number): Promise<ShardRef[]> {
  const lines = (await readFile(plan.path, 'utf8')).split('\n', offset + limit);
  return lines.slice(offset).filter((l) => l !== '').map((l) => JSON.parse(l) as ShardRef);
}
