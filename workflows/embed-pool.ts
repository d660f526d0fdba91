import { continueAsNew, patched, setHandler } from '@temporalio/workflow';
import type { RunConfigInput } from '../lib/config/schema';
import type { ShardPlan } from '../lib/embed/shard-plan';
import type { ShardRef } from '../lib/sources/shard-ref';
import type { VectorDestination } from '../lib/embed/destination';
import type { CommitOutcome } from '../lib/vectors/commit';
import type { ShardTally } from '../lib/vectors/staging';
import { commits, cpuWork, embedding } from './activity-options';
import type { EmbedProgress } from './embed-progress';
import { embedProgressQuery } from './queries';
import { resolvedRunConfig } from './run-config';
import { inWindow } from './window';

/** What an execution hands to the next when it continues as new. */
export interface EmbedPoolCarry {
  /** Where the vectors go. Named `target` in carries of 0.1.0, which executions in flight still hand on. */
  target: VectorDestination;
  plan: ShardPlan;
  /** Plan index of the first shard the next execution handles. */
  next: number;
  progress: EmbedProgress;
  /** For the images/s figure: samples committed by this run, and when it started. */
  processed: number;
  startedAtMs: number;
}

export interface EmbedPoolResult {
  encoderId: string;
  vectorsTable: string;
  shards: number;
  samplesEmbedded: number;
  quarantined: number;
  quarantinedByReason: Record<string, number>;
}

/** Staged shards committed in one activity when several wait. */
const COMMIT_BATCH = 32;

/**
 * One commit at a time: the serialization that keeps exactly one vector row per sample. Each shard
 * goes with the version it was listed at, so that only that version is committed.
 */
class Committer {
  private readonly queue: { shard: Pick<ShardRef, 'id' | 'version'>; settle: (outcome: 'committed' | 'missing' | Error) => void }[] = [];
  private running = false;

  constructor(
    private readonly commit: (shards: Pick<ShardRef, 'id' | 'version'>[]) => Promise<CommitOutcome>,
    private readonly onCommitted: (outcome: CommitOutcome) => void,
  ) {}

  /** Resolves once the shard is committed, or with 'missing' when its listed version is not staged (gone, or another) and it must be embedded again. */
  submit({ id, version }: ShardRef): Promise<'committed' | 'missing'> {
    return new Promise((resolve, reject) => {
      this.queue.push({ shard: { id, version }, settle: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)) });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, COMMIT_BATCH);
      try {
        const outcome = await this.commit(batch.map((b) => b.shard));
        this.onCommitted(outcome);
        const missing = new Set(outcome.missing);
        for (const b of batch) b.settle(missing.has(b.shard.id) ? 'missing' : 'committed');
      } catch (err) {
        for (const b of batch) b.settle(err as Error);
      }
    }
    this.running = false;
  }
}

/**
 * Stage 1 of SEPT: embeds every image of the pool with the run's encoder into LanceDB.
 *
 * Plan: check the encoder and list the pool's shards once; then, page by page, embed shards in a
 * bounded window (each into its own staging table, any number of times) while a single committer
 * moves finished shards into the vectors table; compact; continue as new with the next page, so
 * the history stays bounded whatever the pool size. Shards already committed are skipped, so a
 * restarted run picks up where the last one stopped.
 */
export async function embedPool(input?: RunConfigInput, carry?: EmbedPoolCarry): Promise<EmbedPoolResult> {
  const config = await resolvedRunConfig(input, carry);
  const setup = cpuWork();
  const embed = embedding(config);
  const commit = commits(config);

  const destination = carry?.target ?? (await setup.prepareEncoder(config.encoder, config.store.uri));
  const plan = carry?.plan ?? (await setup.planPoolShards(config.pool.sources, config.outputDir, config.name));
  const next = carry?.next ?? 0;
  const startedAtMs = carry?.startedAtMs ?? Date.now();
  let processed = carry?.processed ?? 0;
  const progress: EmbedProgress = carry?.progress ?? {
    encoderId: destination.encoderId,
    shardsDone: 0,
    shardsTotal: plan.total,
    samplesEmbedded: 0,
    quarantined: 0,
    imagesPerSecond: 0,
  };
  setHandler(embedProgressQuery, () => progress);

  const countDone = (t: ShardTally) => {
    progress.shardsDone++;
    progress.samplesEmbedded += t.embedded;
    progress.quarantined += t.quarantined;
  };
  const committer = new Committer(
    (shards) => commit.commitShards(destination, shards),
    ({ committed, alreadyCommitted }) => {
      for (const t of [...committed, ...alreadyCommitted]) countDone(t);
      processed += committed.reduce((n, t) => n + t.samples, 0);
      progress.imagesPerSecond = Math.round(processed / Math.max(0.001, (Date.now() - startedAtMs) / 1000));
    },
  );

  // A page of the plan; shards this encoder already committed (a rerun, a grown pool) are counted,
  // not scheduled, and small shards go several to an activity. Executions started before the
  // `skip-committed-shards` patch read the page whole and embed it one shard per activity.
  const readPage = async (): Promise<{ size: number; groups: ShardRef[][]; embedGroup: (group: ShardRef[]) => Promise<unknown> }> => {
    if (!patched('skip-committed-shards')) {
      const page = await setup.readShardPage(plan, next, config.embed.shardsPerExecution);
      return { size: page.length, groups: page.map((shard) => [shard]), embedGroup: ([shard]) => embed.embedShard(shard, destination) };
    }
    const grouping = { maxBytes: config.embed.activityBytes, window: config.embed.window };
    const { groups, committed } = await setup.readShardPageToEmbed(plan, next, config.embed.shardsPerExecution, destination, grouping);
    committed.forEach(countDone);
    return { size: groups.flat().length + committed.length, groups, embedGroup: (group) => embed.embedShards(group, destination) };
  };
  const page = await readPage();
  await inWindow(page.groups, config.embed.window, async (group) => {
    // A shard whose listed version is not staged by the time of its commit is embedded again (see Committer).
    for (let pending = group; pending.length > 0; ) {
      await page.embedGroup(pending);
      const outcomes = await Promise.all(pending.map((shard) => committer.submit(shard)));
      pending = pending.filter((_, i) => outcomes[i] === 'missing');
    }
  });

  const after = next + page.size;
  if (after < plan.total) {
    await embed.compactEmbeddings(destination);
    return continueAsNew<typeof embedPool>(config, { target: destination, plan, next: after, progress, processed, startedAtMs });
  }
  const { vectorsTable, quarantinedByReason } = await embed.finishEmbedding(destination);
  return {
    encoderId: destination.encoderId,
    vectorsTable,
    shards: progress.shardsDone,
    samplesEmbedded: progress.samplesEmbedded,
    quarantined: progress.quarantined,
    quarantinedByReason,
  };
}
