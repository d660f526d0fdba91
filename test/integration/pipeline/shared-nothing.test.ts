// Issue 13's deployment, as deployed: machines that share nothing but the Temporal server and a
// bucket. moto (started here) is the bucket, the dev server is Temporal. The pool (demo shards) and
// the target (class-name folders of PNGs) are uploaded first, the encoder too; the run's outputs
// and its vector store are in the bucket. Two sept-cpu workers and one sept-gpu worker each get a
// root of their own (SEPT_DATA_DIR, SEPT_CACHE_DIR, TMPDIR and HOME under it, all empty); one CPU worker
// is killed mid-embedding and the GPU worker mid-pre-training, and their successors start with
// new empty roots. The second GPU machine stages the trainer's shards into a cache at another path
// than the first's: its attempt resumes the mirrored checkpoint because the trainer compares shards
// by their ids (location and version), not by where each machine keeps them. After the run, every
// artifact is in the bucket, and the workers left nothing on their disks but their caches.
//
// What each worker touched is checked from the kernel's side: every worker runs under strace, which
// records each file system call of it and of everything it starts (the trainer, its threads), and
// after the run each record must show no path outside the worker's own root under the system's
// temporary folder (where the other roots, the test's files and every other test's files are) or
// under the repository's data dir (the default SEPT_DATA_DIR, where machines would meet if a
// setting were missed), and no write outside its root but to devices. The same records must show
// the worker's own writes and the trainer's reads in its cache, or the check could not fail.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { spawnWorker, type WorkerKind, type WorkerProcess } from '../../../infra/local-stack';
import { startS3Server, type S3Server } from '../../../infra/s3-server';
import { demoShards } from '../../../lib/demo/materialize';
import { DEMO_CNN, ensureTestEncoder } from '../../../lib/encoder/test-encoders';
import { projectRoot } from '../../../lib/paths';
import { PIPELINE_STAGES } from '../../../lib/pipeline/stages';
import { subsetShardPaths } from '../../../lib/selection/subset-shards';
import { readLocationText } from '../../../lib/storage/location';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { checkpointKeys } from '../../../lib/trainer/checkpoint-mirror';
import { readShard } from '../../../lib/webdataset/reader';
import type { septPipeline } from '../../../workflows/sept-pipeline';
import { storedVectors } from '../../support/embedding';
import { overrideEnv } from '../../support/env';
import { type FileAccess, isUnder, readFileTrace, straceWrapper } from '../../support/file-trace';
import { writeFewShotFolders } from '../../support/image-folders';
import { waitFor } from '../../support/processes';
import { listKeys, putObject } from '../../support/s3';
import { smallPipelineConfig } from '../../support/small-run';
import { useTestTemporal } from '../../support/temporal';
import { filesUnder, tempDir } from '../../support/tmp';

const BUCKET = 'septflow-shared-nothing';
const RUN = 'shared-nothing';
const at = (key: string) => `s3://${BUCKET}/${key}`;
/** The pool: demo shards of 1,000 images, as they are uploaded. */
const POOL = { fashion: ['fashion-mnist', 3], mnist: ['mnist', 1] } as const;

/** A worker on a machine of its own (its root and its strace record are named after it). */
interface Machine {
  name: string;
  /** strace exits once the worker and everything it started have. */
  exited: Promise<void>;
  /** The worker process: its pid is its Temporal identity's. */
  pid: number;
}

/** The worker's pid: strace's child once it runs node (strace first forks short-lived probes, copies of itself). */
function traceeOf(strace: WorkerProcess): Promise<number> {
  const children = `/proc/${strace.process.pid}/task/${strace.process.pid}/children`;
  const runsWorker = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === process.execPath;
    } catch {
      return false;
    }
  };
  return waitFor('the traced worker process', () => Number(readFileSync(children, 'utf8').trim().split(/\s+/).find(runsWorker)) || undefined, 30_000);
}

/** Activities of these types started again after an attempt that did not finish, in every run of a workflow. */
async function retried(client: Client, workflowId: string, types: RegExp): Promise<number> {
  let n = 0;
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const events = (await client.workflow.getHandle(workflowId, execution.runId).fetchHistory()).events ?? [];
    const typeOf = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!]));
    n += events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 0) > 1 && types.test(typeOf.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)) ?? '')).length;
  }
  return n;
}

const shown = (accesses: FileAccess[]) => [...new Set(accesses.map((a) => `${a.syscall}${a.write ? ' (write)' : ''} ${a.path}`))].slice(0, 20);

describe('septPipeline on machines that share nothing but Temporal and a bucket', () => {
  // Under the system's temporary folder, apart from the repository's data dir, which no worker may touch.
  const dir = tempDir('septflow-shared-nothing-', tmpdir());
  const machines: Machine[] = [];
  // Before the server stops: after hooks run in the order they are registered.
  after(() => Promise.all([...machines].map((m) => kill(m))));
  const temporal = useTestTemporal();
  let s3: S3Server;
  const setEnv = overrideEnv();
  before(async () => {
    s3 = await startS3Server({ logFile: join(dir, 'moto.log') });
    await s3.createBucket(BUCKET);
    // This process reads the results from the bucket, as a person would.
    setEnv(s3.env);
  });
  after(() => s3?.stop());

  /** Starts a worker on a new machine: a new empty root, the bucket's variables, and the Temporal address. */
  async function machine(kind: WorkerKind, name: string): Promise<Machine> {
    const root = join(dir, name);
    for (const folder of ['tmp', 'home']) mkdirSync(join(root, folder), { recursive: true });
    const trace = join(dir, 'traces', `${name}.strace`);
    mkdirSync(join(dir, 'traces'), { recursive: true });
    const strace = spawnWorker(kind, {
      address: temporal.server.address,
      logDir: join(dir, 'logs', name),
      // HOME too: tools keep caches there (swc's, onnxruntime's), as on any machine of its own.
      env: { ...s3.env, SEPT_DATA_DIR: join(root, 'data'), SEPT_CACHE_DIR: join(root, 'cache'), TMPDIR: join(root, 'tmp'), HOME: join(root, 'home') },
      wrapper: straceWrapper(trace),
    });
    const exited = new Promise<void>((resolve) => strace.process.once('exit', () => resolve()));
    const m = { name, exited, pid: await traceeOf(strace) };
    machines.push(m);
    return m;
  }

  /** Kills the worker itself (strace passes no signal on); resolves once it and its children are gone. */
  async function kill(m: Machine): Promise<void> {
    machines.splice(machines.indexOf(m), 1);
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // It exited already; strace follows.
    }
    await m.exited;
  }

  it('completes with one row per pool image and its report in the bucket after a CPU worker dies mid-embedding and the GPU worker mid-pre-training', { timeout: 420_000 }, async () => {
    const started = Date.now();
    const poolIds: string[] = [];
    for (const [source, [dataset, count]] of Object.entries(POOL)) {
      for (const [i, shard] of (await demoShards(dataset, 'train')).slice(0, count).entries()) {
        await putObject(s3, BUCKET, `pool/${source}/shard-${String(i).padStart(6, '0')}.tar`, readFileSync(shard));
        for await (const sample of readShard(shard)) poolIds.push(`${source}/${sample.key}`);
      }
    }
    await writeFewShotFolders((path, png) => putObject(s3, BUCKET, `target/${path}`, png));
    await putObject(s3, BUCKET, 'models/demo-cnn.onnx', readFileSync(await ensureTestEncoder(DEMO_CNN, join(dir, 'encoders'))));
    const config = await smallPipelineConfig(RUN, {
      outputDir: at('runs'),
      store: { uri: at('lancedb') },
      pool: { sources: Object.keys(POOL).map((source) => ({ kind: 'webdataset' as const, name: source, shards: at(`pool/${source}/*.tar`) })) },
      target: { train: { kind: 'folder', name: 'train', path: at('target/train') }, test: { kind: 'folder', name: 'test', path: at('target/test') } },
      // Small batches on one thread stretch embedding so that the kill lands mid-way; short
      // heartbeat timeouts retry a dead worker's attempts within seconds.
      encoder: { model: at('models/demo-cnn.onnx'), batchSize: 32, threads: 1 },
      embed: { heartbeatTimeout: '3s', commitTimeout: '10s' },
      pretrain: { steps: 40, batchSize: 32 },
      finetune: { epochs: 2 },
      trainer: { heartbeatTimeout: '10s', checkpointEverySteps: 4 },
    });

    const cpu = [await machine('cpu', 'cpu-1'), await machine('cpu', 'cpu-2')];
    const gpu = await machine('gpu', 'gpu-1');
    const handle = await temporal.client.workflow.start<typeof septPipeline>('septPipeline', { taskQueue: CPU_QUEUE, workflowId: RUN, args: [config] });

    // A CPU worker with an embedding attempt under way, started and heartbeating. (Not "after the
    // first shard is committed": shards are embedded in parallel, so all may end together.)
    const embedding = temporal.client.workflow.getHandle(`${RUN}/embed`);
    const victim = await waitFor(
      'a CPU worker embedding a shard',
      async () => {
        const pending = (await embedding.describe().catch(() => undefined))?.raw.pendingActivities ?? [];
        const holders = pending.filter((a) => /^embedShards?$/.test(a.activityType?.name ?? '') && a.lastHeartbeatTime).map((a) => a.lastWorkerIdentity ?? '');
        return cpu.find((m) => holders.some((id) => id.startsWith(`${m.pid}@`)));
      },
      180_000,
    );
    await kill(victim);
    await machine('cpu', 'cpu-3');

    await waitFor('a pre-training checkpoint in the bucket', async () => (await listKeys(s3, BUCKET, `runs/${RUN}/train/`)).some((k) => /\/pretrain\/checkpoints\/checkpoint-\d+\.pt$/.test(k)), 240_000);
    // Its orphaned trainer reads EOF on stdin, checkpoints into the dead machine's root and exits.
    await kill(gpu);
    await machine('gpu', 'gpu-2');

    const result = await handle.result().catch((err: Error) => {
      let cause = err;
      while (cause.cause instanceof Error) cause = cause.cause;
      throw new Error(`the run failed: ${cause.message}`, { cause: err });
    });
    console.log(`shared-nothing run: ${(Date.now() - started) / 1000} s`, JSON.stringify({ killed: victim.name, metrics: result.metrics, jobs: result.pretrain.progress.jobs }));
    const survivors = machines.map((m) => m.name);
    // The run is over: how a worker drains is tested elsewhere.
    await Promise.all([...machines].map((m) => kill(m)));

    assert.deepEqual(
      PIPELINE_STAGES.map((s) => result.progress.stages[s].status),
      ['skipped', 'done', 'done', 'done', 'done', 'done'],
    );
    assert.ok((await retried(temporal.client, embedding.workflowId, /^embedShards?$/)) > 0, 'the killed worker\'s embedding attempt was retried');
    assert.ok(result.pretrain.progress.jobs.pretrain.attempt >= 2, 'the pre-training was retried');
    assert.ok(result.pretrain.progress.jobs.pretrain.resumedFromStep > 0, 'and resumed from the checkpoint in the bucket');
    const stored = await storedVectors(config.store!.uri!, result.encoder.encoderId, DEMO_CNN.dims);
    // The encoder's table holds the target's 60 images too, under their own source names.
    const poolRows = stored.ids.filter((id) => id.split('/')[0] in POOL);
    assert.equal(poolRows.length, poolIds.length, 'one row per pool image');
    assert.deepEqual(poolRows.sort(), poolIds.sort());
    assert.equal(new Set(stored.ids).size, stored.ids.length, 'no row twice');
    for (const key of ['top1', 'knn_top1', 'linear_probe_top1']) assert.equal(typeof result.metrics[key], 'number', `${key} = ${result.metrics[key]}`);
    const run = at(`runs/${RUN}`);
    assert.equal(result.report.markdown, `${run}/report.md`);
    assert.match(result.outputs.pretrainedCheckpoint, new RegExp(`^${run}/train/pretrain-[^/]+/pretrain/checkpoints/checkpoint-\\d+\\.pt$`));
    assert.match(result.outputs.finetunedCheckpoint, new RegExp(`^${run}/train/finetune-[^/]+/finetune/checkpoints/checkpoint-\\d+\\.pt$`));
    const subsetShards = subsetShardPaths(result.selection.outputs.shards);
    assert.ok(subsetShards.length > 0 && subsetShards.every((s) => s.startsWith(`${run}/selection/shards/`)), subsetShards.join());
    const keys = (await listKeys(s3, BUCKET, `runs/${RUN}/`)).map((k) => k.slice(`runs/${RUN}/`.length));
    const expected = [
      'report.md',
      'report.html',
      'figures/loss-pretrain.svg',
      'figures/contact-sheet.png',
      'embed-shards.jsonl',
      'embed-shards.jsonl.offsets',
      'stages/select.json',
      'stages/pretrain.json',
      'stages/finetune.json',
      'selection/targets.jsonl',
      'selection/pool-shards.jsonl',
      'selection/pool-shards.jsonl.offsets',
      'selection/subset.jsonl',
      'selection/stats.json',
      'selection/contact-sheet.png',
      'selection/shards/subset-000000.tar',
    ];
    for (const key of expected) assert.ok(keys.includes(key), `${key} in the bucket; there: ${keys.join(', ')}`);
    assert.ok(!keys.some((k) => k.startsWith('selection/leakage/')), "the merged chunks' leakage candidates dropped with the hits");
    // The labeled target, under one folder named for the target's content.
    const target = keys.filter((k) => k.startsWith('target/')).map((k) => k.replace(/^target\/[0-9a-f]+\//, ''));
    assert.deepEqual(target.sort(), ['classes.json', 'test/index.json', 'test/shard-000000.tar', 'train/index.json', 'train/shard-000000.tar']);
    for (const job of ['pretrain', 'finetune']) {
      const folder = keys.filter((k) => new RegExp(`^train/${job}-[^/]+/${job}/`).test(k));
      assert.ok(folder.some((k) => k.endsWith('/events.jsonl')), `${job} events in the bucket: ${folder.join(', ')}`);
      assert.ok(folder.some((k) => k.endsWith(`/${job}.config.json`)), `${job} configuration in the bucket`);
      assert.ok(checkpointKeys(folder).length > 0, `${job} checkpoints in the bucket`);
    }
    assert.ok(keys.some((k) => /^train\/pretrain-[^/]+\/evaluate-pretrained\/metrics\.json$/.test(k)), 'the probes\' metrics');
    assert.ok(keys.some((k) => /^train\/finetune-[^/]+\/evaluate\/metrics\.json$/.test(k)), 'the fine-tuned metrics');
    const markdown = (await readLocationText(result.report.markdown)) ?? '';
    assert.match(markdown, new RegExp(`${(100 * result.metrics.top1!).toFixed(1)}%`));
    assert.match(markdown, /\(figures\/loss-pretrain\.svg\)/, 'the loss curve, from the events in the bucket');
    assert.match(markdown, /\| 0 \| bag \| 10 \| 5 \|\n\| 1 \| sandal \| 10 \| 5 \|\n\| 2 \| sneaker \| 10 \| 5 \|\n\| 3 \| trouser \| 10 \| 5 \|/, 'the class names, mapped once');

    const dataDir = join(projectRoot, 'data');
    const cached = new Set<string>();
    for (const name of ['cpu-1', 'cpu-2', 'cpu-3', 'gpu-1', 'gpu-2']) {
      const root = join(dir, name);
      const cache = join(root, 'cache');
      assert.deepEqual(filesUnder(join(root, 'data')), [], `${name} kept nothing in its data dir: its disk is a cache`);
      if (survivors.includes(name)) assert.deepEqual(filesUnder(join(cache, 'scratch')), [], `${name} left nothing in its scratch folder`);
      const accesses = readFileTrace(join(dir, 'traces', `${name}.strace`), projectRoot);
      const own = (a: FileAccess) => isUnder(a.path, root);
      // Its root's parent folders are on the way to it (a realpath, a mkdir -p looks at them).
      const onTheWay = (a: FileAccess) => !a.write && isUnder(root, a.path);
      // The code it runs is read where it is checked out, which may itself lie under the temporary
      // folder; module resolution and tools' config lookups also look in the checkout's parent folders.
      const code = (a: FileAccess) => !a.write && ((isUnder(a.path, projectRoot) && !isUnder(a.path, dataDir)) || isUnder(projectRoot, dirname(a.path)));
      const strays = accesses.filter((a) => !own(a) && !onTheWay(a) && !code(a) && (isUnder(a.path, tmpdir()) || isUnder(a.path, dataDir)));
      assert.deepEqual(shown(strays), [], `${name} touched nothing outside its root under ${tmpdir()} or ${dataDir}`);
      const writes = accesses.filter((a) => a.write && !own(a) && !['/dev', '/proc', '/sys'].some((d) => isUnder(a.path, d)));
      assert.deepEqual(shown(writes), [], `${name} wrote nothing outside its root`);
      assert.ok(accesses.some((a) => a.write && own(a)), `${name}'s record shows its writes`);
      if (accesses.some((a) => a.write && isUnder(a.path, cache))) cached.add(name);
    }
    assert.ok(['cpu-1', 'cpu-2', 'cpu-3'].some((name) => cached.has(name)), `a CPU worker's record shows it filling its cache: ${[...cached].join(', ')}`);
    const gpuCache = join(dir, 'gpu-2', 'cache');
    const gpuAccesses = readFileTrace(join(dir, 'traces', 'gpu-2.strace'), projectRoot);
    // The trainers are the processes that read a trainer configuration: started on their own, or
    // forked from the worker's forkserver (which never runs execve).
    const trainers = new Set(gpuAccesses.filter((a) => !a.write && a.path.endsWith('.config.json') && isUnder(a.path, join(dir, 'gpu-2'))).map((a) => a.pid));
    assert.ok(trainers.size > 0, 'the record shows the trainers reading their configurations');
    assert.ok(gpuAccesses.some((a) => trainers.has(a.pid) && !a.write && isUnder(a.path, gpuCache)), 'the record follows the trainer into the cache it reads its shards from');
    // A CPU worker's model stays pinned while it lives; the trainer's inputs only while it trains.
    assert.deepEqual(readdirSync(gpuCache).filter((n) => n.includes('.pin-')), [], 'the GPU worker released every pin');
  });
});
