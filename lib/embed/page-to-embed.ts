import { ConfigError } from '../config/validate';
import { payloadIssue } from '../config/work-limits';
import type { ShardRef } from '../sources/shard-ref';
import { currentlyCommitted } from '../vectors/commit';
import { openStore } from '../vectors/connect';
import type { ShardTally } from '../vectors/staging';
import type { VectorDestination } from './destination';
import { groupShards, type ShardGrouping } from './shard-groups';
import { readShardPlanPage, type ShardPlan } from './shard-plan';

/** What embedPool does with a page of its shard plan: the groups to embed, one activity each, and the shards already committed. */
export interface ShardPageToEmbed {
  groups: ShardRef[][];
  committed: ShardTally[];
}

/**
 * A page of the plan: the shards still to embed, grouped into activities (./shard-groups.ts), and
 * those this encoder already committed as they are now (a rerun, a grown pool), which need no
 * activity at all. A shard whose content changed since its commit is embedded again. A page too
 * heavy for one payload is a ConfigError naming `embed.shardsPerExecution`.
 */
export async function shardPageToEmbed(plan: ShardPlan, offset: number, limit: number, destination: VectorDestination, grouping: ShardGrouping): Promise<ShardPageToEmbed> {
  const page = await readShardPlanPage(plan, offset, limit);
  const committed = await currentlyCommitted(await openStore(destination.store), destination.encoderId, page);
  const done = new Set(committed.map((t) => t.shardId));
  const toEmbed = { groups: await groupShards(page.filter((s) => !done.has(s.id)), grouping), committed };
  // Shards with long paths make a page heavier than the limit on `shardsPerExecution` assumes.
  const heavy = payloadIssue('embed.shardsPerExecution', `a page of ${page.length} shards`, Buffer.byteLength(JSON.stringify(toEmbed)));
  if (heavy) throw new ConfigError([heavy]);
  return toEmbed;
}
