import type { SourceSpec } from '../config/sources';
import { listAllShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';
import { writeLocation } from '../storage/location';
import { readRecord } from '../storage/record';

/** The pool's shards, listed once into a file: workflows page through it instead of carrying 100,000 refs. */
export interface ShardPlan {
  /** Its location (lib/storage/location.ts): a local path, or an object that workers read through their caches. */
  path: string;
  total: number;
}

export async function writeShardPlan(sources: SourceSpec[], path: string): Promise<ShardPlan> {
  const shards = await listAllShards(sources, 'pool.sources');
  await writeLocation(path, shards.map((s) => `${JSON.stringify(s)}\n`).join(''));
  return { path, total: shards.length };
}

function shardOfPlan(line: string): ShardRef {
  const ref = JSON.parse(line) as Partial<ShardRef> | null;
  if (typeof ref?.id !== 'string' || typeof ref.path !== 'string') throw new Error(`not a shard: ${line.slice(0, 80)}`);
  return ref as ShardRef;
}

/** The page's shards of a plan that holds all `plan.total` of them: one torn short, or whose page does not parse, throws. */
function planPage(plan: ShardPlan, offset: number, limit: number) {
  return (text: string): ShardRef[] => {
    let lines = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', end + 1)) lines++;
    if (lines < plan.total) throw new Error(`${lines} whole lines where ${plan.total} shards were listed`);
    return text.split('\n', offset + limit).slice(offset).filter((l) => l !== '').map(shardOfPlan);
  };
}

/** Shards [offset, offset + limit) of a plan. A plan gone or torn is listed again by the next run (planPoolShards). */
export async function readShardPlanPage(plan: ShardPlan, offset: number, limit: number): Promise<ShardRef[]> {
  const page = await readRecord(plan.path, planPage(plan, offset, limit));
  if (page === undefined) throw new Error(`the pool's shard plan ${plan.path} is gone or torn: start the run again to list the pool anew`);
  return page;
}
