// `npm run bench:scale`: how each stage's cost grows with its size, simulated without real images
// (bench/scale-data.ts: every sample one tiny PNG, the selection's pool in WebDataset tars, targets
// and one-image shards in manifests; synthetic vectors written straight into the encoder's vectors
// table). For every stage at growing sizes: wall time per unit
// of work, the peak RSS of the process doing it (sampled from /proc, from outside), and where it
// ran as a workflow on a dev server, the largest payload and the most history events of any
// execution (continued-as-new runs and children included). Stages and their units:
//   select_plan  planSelection: lists pool (tars, by file) and targets       per target
//   search       searchTargets, every chunk x partition (exact path, k 50) per target x pool row
//   merge        mergeTargetChunk, every target chunk: hits merged         per hit
//   policy       selectFromMergedHits: merged hits gathered, policy, tables per hit
//   materialize  writeSubsetGroup, every group of pool shards: subset shards per subset sample
//   plan_write   writeShardPlan over one-image shards                     per shard
//   plan_read    readShardPlanPage, page by page as embedPool reads it    per shard
//   embed        the embedPool workflow on one-image shards               per shard
//   census       the census workflow on one-image shards                  per shard
// Selection runs through the selectSubset workflow (a fresh sept-cpu worker process per size);
// BENCH_FULL=1 adds pools of 1M and 10M rows whose activities run directly (bench/scale-direct.ts),
// as stages `<stage>_direct`: a slope is never taken across the two routes.
// Plans are lib calls in a process of their own, after a warm-up pass, repeated for two seconds at
// least (the time of a pass is their average), so that a small plan's milliseconds are not mostly
// the clock's.
// Last line: one JSON object with `slope_<stage>` (time per unit at the largest size over the
// smallest: 1.0 is linear), `rss_growth_<stage>` (peak RSS, largest over smallest),
// `max_payload_bytes` and `max_history_events`.
// BENCH_SCALE=0.01 shrinks every size for development.
// Pool deduplication (bench/scale-dedup.ts): `dedup_s_per_row_100k` (exact self-join) and
// `dedup_s_per_row_1m` (the index path) and `dedup_s_per_row_1m_exact`, each with one query chunk
// of 4,096 rows joined and its time scaled to all; and on the demo pool's real images, with the
// thumbnail copy detector (lib/encoder/thumbnail.ts), `dedup_demo_recall` and
// `dedup_demo_precision` against its planted copies (embedPool, then dedupPool, on a dev server).
// BENCH_ONLY=dedup runs only those and prints them, without writing docs/benchmarks.md.
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../infra/dev-server';
import { spawnWorker, type WorkerKind, type WorkerProcess } from '../infra/local-stack';
import type { RunConfigInput } from '../lib/config/schema';
import { parseRunConfig } from '../lib/config/validate';
import { readDedupStats } from '../lib/dedup/groups';
import { seconds } from '../lib/format';
import { DEMO_CNN, ensureTestEncoder } from '../lib/encoder/test-encoders';
import { writeThumbnailEncoder } from '../lib/encoder/thumbnail';
import { dataDir } from '../lib/paths';
import { dedupFiles } from '../lib/run-layout';
import { CPU_QUEUE, GPU_QUEUE } from '../lib/temporal/queues';
import { recordBenchmark } from './record';
import { DIM, K, type SelectionCase, testTargets, writeSelectionCase, writeTinyShardPool } from './scale-data';
import { scaleFigures, scaleTable, shortCount, type StageMeasurement } from './scale-figures';
import { activitySpansOf, type Execution, executionHistories, executionsSpan, historyFigures } from './scale-history';
import { type DedupCase, dedupFigures, measureDedup } from './scale-dedup';
import { RssSampler, runDirect } from './scale-process';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const FULL = process.env.BENCH_FULL === '1';
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

/**
 * Pool rows x train targets: the pool grows 10-fold and the search's work 100-fold, then the
 * targets 10-fold more (5M hits to merge) on a pool that keeps the search within the time here.
 */
const SELECTION: SelectionCase[] = [
  { poolRows: scaled(100_000, 2000), targets: scaled(1000, 20) },
  { poolRows: scaled(1_000_000, 10_000), targets: scaled(10_000, 100) },
  { poolRows: scaled(200_000, 4000), targets: scaled(100_000, 1000) },
];
/**
 * A pool beyond what a workflow run fits in the time here, with its activities called directly, and
 * a pool a tenth its size the same way: stages `<stage>_direct`, the pool's growth alone.
 */
const SELECTION_DIRECT: SelectionCase[] = FULL ? [1_000_000, 10_000_000].map((n) => ({ poolRows: scaled(n, 20_000), targets: scaled(1000, 20) })) : [];
const PLAN_SHARDS = [1000, 10_000, 100_000].map((n) => scaled(n, 50));
const EMBED_SHARDS = [scaled(100, 20), scaled(1000, 60)];
const CENSUS_SHARDS = [1000, 10_000].map((n) => scaled(n, 50));
const DEDUP: { key: string; c: DedupCase }[] = [
  { key: '100k', c: { rows: scaled(100_000, 2000), method: 'exact', chunkRows: 65_536 } },
  { key: '1m', c: { rows: scaled(1_000_000, 20_000), method: 'ann', chunkRows: 4096, chunks: 1 } },
  { key: '1m_exact', c: { rows: scaled(1_000_000, 20_000), method: 'exact', chunkRows: 4096, chunks: 1 } },
];
const DEDUP_ONLY = process.env.BENCH_ONLY === 'dedup';

/** Pool deduplication at each size of DEDUP, then on the demo pool's planted copies. */
async function dedupCosts(stack: Stack): Promise<Record<string, unknown>> {
  const measured = [];
  for (const { key, c } of DEDUP) measured.push({ key, m: await measureDedup(work, c, log) });
  return { ...dedupFigures(measured), ...(await demoCopies(stack)) };
}
/** The copy detector and threshold docs/stages/dedup.md chose on the demo: the largest group 5. */
const DEMO_DETECTOR = { channels: 1, size: 28, cells: 14 } as const;
const DEMO_THRESHOLD = 0.997;
/** embedPool reads its plan a page of `embed.shardsPerExecution` at a time. */
const PLAN_PAGE = parseRunConfig({ demo: true }).embed.shardsPerExecution;
/** A workflow that has not finished by then is stopped and reported failed: the bench never hangs on a retry loop. */
const WORKFLOW_TIMEOUT_MS = 45 * 60_000;

const work = process.env.SEPT_BENCH_DIR ?? join(dataDir(), 'tmp', `septflow-bench-scale-${process.pid}`);
const log = (message: string) => console.error(`[bench:scale] ${message}`);
/**
 * Recall and precision of the demo pool's deduplication against its planted copies: the pool
 * embedded by the thumbnail copy detector (embedPool), its groups found (dedupPool, exact), as a
 * user's run does, in a store of the bench's own.
 */
async function demoCopies(stack: Stack): Promise<Record<string, unknown>> {
  const dir = join(work, 'dedup-demo');
  const name = 'scale-dedup-demo';
  const model = await writeThumbnailEncoder(join(dir, 'detector'), DEMO_DETECTOR);
  const input: RunConfigInput = { demo: true, name, encoder: { model }, dedup: { enabled: true, threshold: DEMO_THRESHOLD, method: 'exact', maxRemovedShare: 1 }, store: { uri: join(dir, 'lancedb') }, outputDir: join(dir, 'runs') };
  try {
    const took: Record<string, number> = {};
    for (const workflow of ['embedPool', 'dedupPool']) {
      log(`dedup on the demo pool: ${workflow} with the ${DEMO_DETECTOR.cells}-cell thumbnail detector`);
      const run = await throughWorkflow(stack, workflow, `bench-scale/dedup-demo-${workflow}`, input, ['cpu']);
      if (run.failed) throw new Error(`dedup on the demo pool: ${workflow} failed: ${run.failed}`);
      const span = executionsSpan(run.executions);
      took[workflow] = (span.endMs - span.startMs) / 1000;
    }
    const stats = await readDedupStats(dedupFiles(join(dir, 'runs', name, 'dedup')).stats);
    const copies = stats?.plantedCopies;
    if (!stats || !copies) throw new Error('dedup on the demo pool: its stats hold no planted copies');
    log(`dedup on the demo pool: ${stats.removed} of ${stats.poolRows} removed, recall ${copies.recall.toFixed(3)}, precision ${copies.precision.toFixed(3)}`);
    return {
      dedup_demo_recall: Number(copies.recall.toFixed(4)),
      dedup_demo_precision: Number(copies.precision.toFixed(4)),
      dedup_demo_removed: stats.removed,
      dedup_demo_route: `thumbnail copy detector (${DEMO_DETECTOR.cells} cells), threshold ${DEMO_THRESHOLD}, exact self-join of ${stats.poolRows} images; ${copies.copiesFound} of ${copies.knownCopies} planted copies found, ${copies.removedCorrectly} of ${stats.removed} removed rightly; embedPool ${took.embedPool.toFixed(1)} s, dedupPool ${took.dedupPool.toFixed(1)} s`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What one unit of each selection stage's work is. */
const SELECTION_UNITS = { select_plan: 'target', search: 'target x pool row', merge: 'hit', policy: 'hit', materialize: 'subset sample' };
const sizeLabel = (c: SelectionCase) => `${shortCount(c.poolRows)} pool x ${shortCount(c.targets)} targets`;

interface Stack {
  address: string;
  client: Client;
}

interface WorkflowRun {
  executions: Execution[];
  /** Each worker's RSS sampler, by queue. */
  rss: Map<WorkerKind, RssSampler>;
  failed?: string;
}

/**
 * Until each worker polls its queue (workers poll as `<pid>@<host>`), so that its start (bundling
 * the workflow code takes seconds) is not counted as the workflow's time.
 */
async function pollingWorkers(stack: Stack, workers: WorkerProcess[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (const worker of workers) {
    const [taskQueue, taskQueueType] = worker.kind === 'cpu' ? [CPU_QUEUE, 1] : [GPU_QUEUE, 2];
    for (;;) {
      const { pollers } = await stack.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType });
      if (pollers?.some((p) => p.identity?.startsWith(`${worker.process.pid}@`))) break;
      if (worker.process.exitCode !== null || Date.now() > deadline) throw new Error(`the sept-${worker.kind} worker did not start polling; its log: ${join(work, 'logs')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** One workflow on fresh worker processes (a fresh worker per run: its peak RSS is the run's), with every execution's history. */
async function throughWorkflow(stack: Stack, workflow: string, workflowId: string, input: RunConfigInput, kinds: WorkerKind[]): Promise<WorkflowRun> {
  const workers: WorkerProcess[] = kinds.map((kind) => spawnWorker(kind, { address: stack.address, logDir: join(work, 'logs', workflowId) }));
  const rss = new Map(workers.map((w) => [w.kind, new RssSampler(w.process.pid!)]));
  let failed: string | undefined;
  try {
    await pollingWorkers(stack, workers);
    const handle = await stack.client.workflow.start(workflow, { taskQueue: CPU_QUEUE, workflowId, args: [input], workflowExecutionTimeout: WORKFLOW_TIMEOUT_MS });
    // A worker that dies (code changed under it mid-session, memory) would leave the workflow waiting for the timeout.
    const workerExit = Promise.race(workers.map((w) => new Promise<string>((resolve) => w.process.once('exit', (code, signal) => resolve(`the sept-${w.kind} worker exited (${code ?? signal}); its log: ${join(work, 'logs', workflowId)}`)))));
    failed = await Promise.race([
      handle.result().then(
        () => undefined,
        (err: Error) => [err.message, (err.cause as Error | undefined)?.message, ((err.cause as Error | undefined)?.cause as Error | undefined)?.message].filter(Boolean).join(': '),
      ),
      workerExit,
    ]);
    if (failed?.includes('worker exited')) await handle.terminate('bench:scale: a worker exited').catch(() => undefined);
    return { executions: await executionHistories(stack.client, workflowId, handle.firstExecutionRunId), rss, failed };
  } finally {
    for (const sampler of rss.values()) sampler.stop();
    await Promise.all(workers.map((w) => w.stop()));
  }
}

const maxOf = (values: number[]) => values.reduce((m, v) => Math.max(m, v), 0);

/** The largest payload and the most events of any of these executions, and how many there were. */
function historyOf(executions: Execution[]): { maxPayloadBytes: number; maxHistoryEvents: number; executions: number } {
  const figures = executions.map((e) => historyFigures(e.events));
  return { maxPayloadBytes: maxOf(figures.map((f) => f.maxPayloadBytes)), maxHistoryEvents: maxOf(figures.map((f) => f.events)), executions: executions.length };
}

/** selectSubset on one case: planning, search and merge, each timed by its activities' events. */
async function selectionThroughWorkflow(stack: Stack, c: SelectionCase, index: number, model: string): Promise<StageMeasurement[]> {
  const dir = join(work, `selection-${index}`);
  const size = sizeLabel(c);
  log(`selection ${size}: writing manifests and ${c.poolRows + c.targets + testTargets(c)} vectors`);
  const input = await writeSelectionCase(dir, `scale-select-${index}`, model, c);
  log(`selection ${size}: selectSubset on a fresh sept-cpu worker`);
  try {
    const run = await throughWorkflow(stack, 'selectSubset', `bench-scale/select-${index}`, input, ['cpu']);
    const spans = activitySpansOf(run.executions);
    const { maxHistoryEvents, executions } = historyOf(run.executions);
    const rss = run.rss.get('cpu')!;
    const plan = spans.get('planSelection')?.results.at(-1) as { poolRows: number; targets: { train: number; test: number } } | undefined;
    const searched = plan ? plan.targets.train + plan.targets.test : c.targets + testTargets(c);
    const poolRows = plan?.poolRows ?? c.poolRows;
    const hits = (spans.get('searchTargets')?.results ?? []).reduce<number>((n, r) => n + ((r as { hits?: number } | null)?.hits ?? 0), 0);
    const subsetSamples = (spans.get('finishSubset')?.results.at(-1) as { samples?: number } | undefined)?.samples ?? 0;
    const stage = (name: keyof typeof SELECTION_UNITS, activity: string, units: number): StageMeasurement => {
      const span = spans.get(activity);
      const done = span && Number.isFinite(span.endMs);
      if (span && span.maxAttempt > 1) log(`selection ${size}: ${activity} took ${span.maxAttempt} attempts (${run.failed ?? 'then completed'})`);
      return {
        stage: name,
        size,
        units,
        unit: SELECTION_UNITS[name],
        route: 'workflow',
        seconds: done ? (span.endMs - span.startMs) / 1000 : 0,
        peakRssMb: done ? rss.peakMbBetween(span.startMs, span.endMs) : rss.highWaterMb(),
        maxPayloadBytes: span?.maxPayloadBytes,
        maxHistoryEvents,
        executions,
        attempts: span?.maxAttempt,
        ...(done ? {} : { failed: run.failed ?? `${activity} did not complete` }),
      };
    };
    const measured = [
      stage('select_plan', 'planSelection', searched),
      stage('search', 'searchTargets', poolRows * searched),
      stage('merge', 'mergeTargetChunk', hits),
      stage('policy', 'selectFromMergedHits', hits),
      stage('materialize', 'writeSubsetGroup', subsetSamples),
    ];
    log(`selection ${size}: ${measured.map((m) => `${m.stage} ${m.failed ? 'failed' : seconds(m.seconds, 1)}`).join(', ')}; worker peak ${rss.highWaterMb().toFixed(0)} MiB`);
    return measured;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same stages with the activities called directly, for a pool that a workflow run does not fit here. */
async function selectionDirect(c: SelectionCase, index: number, model: string): Promise<StageMeasurement[]> {
  const dir = join(work, `selection-direct-${index}`);
  const size = sizeLabel(c);
  log(`selection ${size} (activities directly): writing manifests and vectors`);
  const config = await writeSelectionCase(dir, `scale-direct-${index}`, model, c);
  try {
    const { result, rss } = await runDirect({ kind: 'selection', config }, work, `selection-${index}`);
    const measured = result.stages.map((s): StageMeasurement => ({ stage: `${s.stage}_direct`, size, units: s.units, unit: SELECTION_UNITS[s.stage as keyof typeof SELECTION_UNITS], route: 'direct', seconds: (s.endMs - s.startMs) / 1000, peakRssMb: rss.peakMbBetween(s.startMs, s.endMs) }));
    log(`selection ${size}: ${measured.map((m) => `${m.stage} ${seconds(m.seconds, 1)}`).join(', ')}; peak ${rss.highWaterMb().toFixed(0)} MiB`);
    return measured;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** writeShardPlan and readShardPlanPage over `shards` one-image shards, in a process of their own. */
async function shardPlan(shards: number): Promise<StageMeasurement[]> {
  const dir = join(work, `plan-${shards}`);
  const size = `${shortCount(shards)} shards`;
  try {
    const source = await writeTinyShardPool(dir, shards);
    const { result, rss } = await runDirect({ kind: 'shard-plan', sources: [source], path: join(dir, 'embed-shards.jsonl'), pageSize: PLAN_PAGE }, work, `plan-${shards}`);
    const measured = result.stages.map((s): StageMeasurement => ({ stage: s.stage, size, units: s.units, unit: 'shard', route: 'direct', seconds: (s.endMs - s.startMs) / 1000 / (s.passes ?? 1), peakRssMb: rss.peakMbBetween(s.startMs, s.endMs) }));
    log(`shard plan ${size}: ${result.stages.map((s, i) => `${s.stage} ${seconds(measured[i].seconds, 3)} a pass (${s.passes} passes)`).join(', ')}`);
    return measured;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A whole workflow over `shards` one-image shards (embedPool, census): per shard, with every execution's history. */
async function shardWorkflow(stack: Stack, stage: 'embed' | 'census', shards: number, model: string): Promise<StageMeasurement> {
  const dir = join(work, `${stage}-${shards}`);
  const size = `${shortCount(shards)} shards`;
  try {
    const source = await writeTinyShardPool(dir, shards);
    const input: RunConfigInput = { name: `scale-${stage}-${shards}`, pool: { sources: [source] }, target: { preset: 'mnist' }, encoder: { model }, store: { uri: join(dir, 'lancedb') }, outputDir: join(dir, 'runs') };
    log(`${stage} ${size}: the ${stage === 'embed' ? 'embedPool' : 'census'} workflow on fresh workers`);
    const run = await throughWorkflow(stack, stage === 'embed' ? 'embedPool' : 'census', `bench-scale/${stage}-${shards}`, input, stage === 'embed' ? ['cpu'] : ['cpu', 'gpu']);
    const span = executionsSpan(run.executions);
    const history = historyOf(run.executions);
    const peakRssMb = Math.max(...[...run.rss.values()].map((r) => r.peakMbBetween(span.startMs, span.endMs)));
    log(`${stage} ${size}: ${run.failed ? `failed (${run.failed})` : seconds((span.endMs - span.startMs) / 1000, 1)}; ${history.executions} executions, at most ${history.maxHistoryEvents} events, largest payload ${history.maxPayloadBytes} B`);
    const attempts = maxOf([...activitySpansOf(run.executions).values()].map((s) => s.maxAttempt));
    return { stage, size, units: shards, unit: 'shard', route: 'workflow', seconds: (span.endMs - span.startMs) / 1000, peakRssMb, ...history, attempts, ...(run.failed ? { failed: run.failed } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  const started = performance.now();
  // The machine is shared: the load average says how much else ran beside the bench.
  const loadStart = loadavg()[0];
  log(`work folder ${work}; scale ${SCALE}${FULL ? ', full' : ''}; load average ${loadStart.toFixed(2)}`);
  const server = await startDevServer({ port: 0, headless: true, logFile: join(work, 'logs', 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const stack: Stack = { address: server.address, client: new Client({ connection, namespace: server.namespace }) };
  if (DEDUP_ONLY) {
    try {
      console.log(JSON.stringify(await dedupCosts(stack)));
    } finally {
      await connection.close();
      await server.stop();
    }
    rmSync(work, { recursive: true, force: true });
    return;
  }
  const model = await ensureTestEncoder(DEMO_CNN, join(work, 'encoders'));
  const measurements: StageMeasurement[] = [];
  const dedup: Record<string, unknown> = {};
  try {
    for (const shards of PLAN_SHARDS) measurements.push(...(await shardPlan(shards)));
    for (const shards of CENSUS_SHARDS) measurements.push(await shardWorkflow(stack, 'census', shards, model));
    for (const shards of EMBED_SHARDS) measurements.push(await shardWorkflow(stack, 'embed', shards, model));
    for (const [i, c] of SELECTION.entries()) measurements.push(...(await selectionThroughWorkflow(stack, c, i, model)));
    for (const [i, c] of SELECTION_DIRECT.entries()) measurements.push(...(await selectionDirect(c, i, model)));
    Object.assign(dedup, await dedupCosts(stack));
  } finally {
    await connection.close();
    await server.stop();
  }
  // The workers' logs say why a stage failed; otherwise nothing is kept.
  if (measurements.some((m) => m.failed)) log(`a stage failed: logs kept under ${join(work, 'logs')}`);
  else rmSync(work, { recursive: true, force: true });
  const loadEnd = loadavg()[0];
  const totalSeconds = (performance.now() - started) / 1000;
  log(`done in ${seconds(totalSeconds)}; load average at end ${loadEnd.toFixed(2)}`);
  console.log(scaleTable(measurements));
  const context = {
    scale: SCALE,
    full: FULL,
    dim: DIM,
    k: K,
    selection_routes: `selectSubset workflow for ${SELECTION.map(sizeLabel).join(', ')}${SELECTION_DIRECT.length ? `; activities directly for ${SELECTION_DIRECT.map(sizeLabel).join(', ')}` : ''}`,
    load_avg_1m_start: Number(loadStart.toFixed(2)),
    load_avg_1m_end: Number(loadEnd.toFixed(2)),
    total_seconds: Math.round(totalSeconds),
  };
  recordBenchmark('scale', { ...scaleFigures(measurements, context), ...dedup });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
