import { Context, heartbeat } from '@temporalio/activity';
import type { SourceSpec } from '../lib/config/sources';
import { prepareVectorDestination } from '../lib/embed/prepare';
import { type ShardPageToEmbed, shardPageToEmbed } from '../lib/embed/page-to-embed';
import type { ShardGrouping } from '../lib/embed/shard-groups';
import { readShardPlanPage, type ShardPlan, writeShardPlan } from '../lib/embed/shard-plan';
import { type StageOutcome, stageShard } from '../lib/embed/stage-shard';
import type { VectorDestination } from '../lib/embed/destination';
import type { EncoderConfig } from '../lib/encoder/spec';
import { RunLayout } from '../lib/run-layout';
import type { ShardRef } from '../lib/sources/shard-ref';
import { type CommitOutcome, commitStagedShards, compactEncoderTables } from '../lib/vectors/commit';
import { openStore } from '../lib/vectors/connect';
import { quarantineCounts } from '../lib/vectors/quarantine';
import { dropAllStaging } from '../lib/vectors/staging';
import { tableNames } from '../lib/vectors/tables';
import { recordEmbedded, recordQuarantined } from '../lib/telemetry/metrics';
import { failFastOnBadInput } from './failures';

/** Loads and checks the encoder, fixes its id and vector size, creates its tables. */
export async function prepareEncoder(encoder: EncoderConfig, store: string): Promise<VectorDestination> {
  return failFastOnBadInput(() => prepareVectorDestination(encoder, store));
}

/** Lists the pool's sources into a shard plan under the run's output folder. */
export async function planPoolShards(sources: SourceSpec[], outputDir: string, runName: string): Promise<ShardPlan> {
  return failFastOnBadInput(() => writeShardPlan(sources, new RunLayout(outputDir, runName).poolShardPlan));
}

/** Kept for executions started before embedPool's `skip-committed-shards` patch. */
export async function readShardPage(plan: ShardPlan, offset: number, limit: number): Promise<ShardRef[]> {
  return readShardPlanPage(plan, offset, limit);
}

/** A page of the plan to embed (lib/embed/page-to-embed.ts). */
export async function readShardPageToEmbed(plan: ShardPlan, offset: number, limit: number, destination: VectorDestination, grouping: ShardGrouping): Promise<ShardPageToEmbed> {
  return failFastOnBadInput(() => shardPageToEmbed(plan, offset, limit, destination, grouping));
}

/** Embeds shards one after another, each into its staging table (idempotent); heartbeats after every batch. */
export async function embedShards(shards: ShardRef[], destination: VectorDestination): Promise<StageOutcome[]> {
  const { cancellationSignal } = Context.current();
  const outcomes: StageOutcome[] = [];
  for (const shard of shards) {
    const outcome = await failFastOnBadInput(() =>
      stageShard(shard, destination, (samplesDone) => {
        heartbeat({ shard: shard.id, shardsDone: outcomes.length, samplesDone });
        cancellationSignal.throwIfAborted();
      }),
    );
    if (outcome.status === 'staged') {
      recordEmbedded(outcome.embedded);
      recordQuarantined(outcome.quarantined);
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/** One shard: what executions started before embedPool's `skip-committed-shards` patch schedule. */
export async function embedShard(shard: ShardRef, destination: VectorDestination): Promise<StageOutcome> {
  return (await embedShards([shard], destination))[0];
}

/**
 * Moves staged shards into the encoder's tables; the workflow runs one at a time. A commit must
 * never overlap another, not even a zombie attempt with its retry: Temporal retries an attempt only
 * after its start-to-close timeout, so an attempt stops (retryably) before any write once half of
 * that time has passed. A killed commit is repaired by its retry (see lib/vectors/commit.ts).
 * Each shard comes with the version it was listed at, the only one committed; ids alone, as
 * commits scheduled before versions were passed still send them, commit whatever is staged.
 */
export async function commitShards(destination: VectorDestination, shards: (Pick<ShardRef, 'id' | 'version'> | string)[]): Promise<CommitOutcome> {
  const { startToCloseTimeoutMs } = Context.current().info;
  const started = Date.now();
  const beforeWrite = () => {
    if (Date.now() - started > startToCloseTimeoutMs / 2) {
      throw new Error(`commit ran past half of its ${startToCloseTimeoutMs} ms timeout: stopping before it writes, so that it cannot overlap a retry`);
    }
  };
  const listed = shards.map((s) => (typeof s === 'string' ? { id: s } : s));
  return commitStagedShards(await openStore(destination.store), destination.encoderId, destination.dims, listed, beforeWrite);
}

/** Compacts the encoder's tables after a page of shards. */
export async function compactEmbeddings(destination: VectorDestination): Promise<void> {
  const db = await openStore(destination.store);
  await compactEncoderTables(db, destination.encoderId);
}

/** After the last commit: drops staging left by zombie attempts, compacts, and counts quarantined samples by reason. */
export async function finishEmbedding(destination: VectorDestination): Promise<{ vectorsTable: string; quarantinedByReason: Record<string, number> }> {
  const db = await openStore(destination.store);
  await dropAllStaging(db, destination.encoderId);
  await compactEncoderTables(db, destination.encoderId);
  return { vectorsTable: tableNames(destination.encoderId).vectors, quarantinedByReason: await quarantineCounts(db, destination.encoderId) };
}
