// The activities and lib functions of `npm run bench:scale` called directly, in a process of their
// own (bench/scale-process.ts samples its RSS from outside, which a busy event loop cannot delay):
// a selection too large for a workflow run here, and the embedding stage's shard plan, written and
// paged through. Reads a job file (argument 1); its last stdout line is one JSON object: when each
// stage ran and how much work it did.
import { readFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { mergeTargetChunk, planSelection, searchTargets, selectFromMergedHits } from '../activities/retrieve';
import type { RunConfigInput } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { parseRunConfig } from '../lib/config/validate';
import { readShardPlanPage, type ShardPlan, writeShardPlan } from '../lib/embed/shard-plan';
import { inWindow } from '../workflows/window';

export type DirectJob = { kind: 'selection'; config: RunConfigInput } | { kind: 'shard-plan'; sources: SourceSpec[]; path: string; pageSize: number };

export interface DirectStage {
  stage: string;
  startMs: number;
  endMs: number;
  /** Units of work in one pass; a stage of several passes (`passes`) took (endMs - startMs) / passes each. */
  units: number;
  passes?: number;
}

export interface DirectResult {
  stages: DirectStage[];
}

/** An activity as a worker runs it: in an activity context, so that its heartbeats have somewhere to go. */
const asActivity = <P extends unknown[], R>(fn: (...args: P) => Promise<R>, ...args: P): Promise<R> => new MockActivityEnvironment().run(fn, ...args);

/** Milliseconds since the epoch, as the RSS samples are stamped, to a fraction of a millisecond. */
const nowMs = () => performance.timeOrigin + performance.now();

async function timed<T>(stages: DirectStage[], stage: string, work: () => Promise<T>, units: (result: T) => number): Promise<T> {
  const startMs = nowMs();
  const result = await work();
  stages.push({ stage, startMs, endMs: nowMs(), units: units(result) });
  return result;
}

/** A pass too short to time on a shared machine is repeated until this long has passed. */
const MIN_STAGE_MS = 2000;

/** A stage of passes that each return their units: one untimed pass to warm the code up, then passes for MIN_STAGE_MS at least. */
async function timedPasses(stages: DirectStage[], stage: string, pass: () => Promise<number>): Promise<void> {
  const units = await pass();
  const startMs = nowMs();
  let passes = 0;
  do {
    await pass();
    passes++;
  } while (nowMs() - startMs < MIN_STAGE_MS);
  stages.push({ stage, startMs, endMs: nowMs(), units, passes });
}

/** selectSubset's planning, search, merge and policy, in its order and with its window, without the workflow. */
async function selection(input: RunConfigInput): Promise<DirectResult> {
  const config = parseRunConfig(input);
  const r = config.retrieval;
  const stages: DirectStage[] = [];
  const plan = await timed(stages, 'select_plan', () => asActivity(planSelection, config), (p) => p.targets.train + p.targets.test);
  const searches = Array.from({ length: plan.chunks * plan.partitions }, (_, i) => ({ chunk: Math.floor(i / plan.partitions), partition: i % plan.partitions }));
  const hits = await timed(
    stages,
    'search',
    async () => {
      let found = 0;
      await inWindow(searches, r.window, async ({ chunk, partition }) => {
        found += (await asActivity(searchTargets, plan, r, chunk, partition)).hits;
      });
      return found;
    },
    () => (plan.targets.train + plan.targets.test) * plan.poolRows,
  );
  const chunks = Array.from({ length: plan.chunks }, (_, c) => c);
  const mergeChunk = async (chunk: number) => {
    await asActivity(mergeTargetChunk, plan, r, chunk);
  };
  await timed(stages, 'merge', () => inWindow(chunks, r.window, mergeChunk), () => hits);
  await timed(stages, 'policy', () => asActivity(selectFromMergedHits, plan, r, config.target.test), () => hits);
  return { stages };
}

/** The embedding stage's shard plan: listed and written, then read page by page as embedPool reads it. */
async function shardPlan(job: Extract<DirectJob, { kind: 'shard-plan' }>): Promise<DirectResult> {
  const stages: DirectStage[] = [];
  let plan: ShardPlan = { path: job.path, total: 0 };
  await timedPasses(stages, 'plan_write', async () => (plan = await writeShardPlan(job.sources, job.path)).total);
  const pageThrough = async () => {
    let read = 0;
    for (let offset = 0; offset < plan.total; offset += job.pageSize) read += (await readShardPlanPage(plan, offset, job.pageSize)).length;
    if (read !== plan.total) throw new Error(`paged through ${read} of the plan's ${plan.total} shards`);
    return read;
  };
  await timedPasses(stages, 'plan_read', pageThrough);
  return { stages };
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as DirectJob;
  const result = job.kind === 'selection' ? await selection(job.config) : await shardPlan(job);
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
