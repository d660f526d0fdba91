import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SourceSpec } from '../config/sources';
import { listShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';

/** The pool's shards, listed once into a file: workflows page through it instead of carrying 100,000 refs. */
export interface ShardPlan {
  path: string;
  total: number;
}

export async function writeShardPlan(sources: SourceSpec[], path: string): Promise<ShardPlan> {
  const shards = (await Promise.all(sources.map(listShards))).flat();
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, shards.map((s) => JSON.stringify(s)).join('\n') + '\n');
  await rename(tmp, path);
  return { path, total: shards.length };
}

/** Shards [offset, offset + limit) of a plan. */
export async function readShardPlanPage(plan: ShardPlan, offset: number, limit: number): Promise<ShardRef[]> {
  const lines = (await readFile(plan.path, 'utf8')).split('\n', offset + limit);
  return lines.slice(offset).filter((l) => l !== '').map((l) => JSON.parse(l) as ShardRef);
}
