// `npm run bench:embed`: what the embedding stage achieves against what this machine allows, with
// the project's own code. Both encoders are generated test encoders with RANDOM weights (speed
// does not depend on the weights). Prints its figures as one JSON object on the last line.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Client, Connection } from '@temporalio/client';
import sharp from 'sharp';
import { startDevServer } from '../infra/dev-server';
import { spawnWorker } from '../infra/local-stack';
import { startS3Server } from '../infra/s3-server';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import { parseRunConfig } from '../lib/config/validate';
import { demoShards } from '../lib/demo/materialize';
import { encoderSpecOf } from '../lib/encoder/spec';
import { DEMO_CNN, ensureTestEncoder, RESNET18 } from '../lib/encoder/test-encoders';
import { ObjectStore } from '../lib/object-store';
import { dataDir } from '../lib/paths';
import { listAllShards } from '../lib/sources/list-shards';
import { sourceSamples } from '../lib/sources/samples';
import { CPU_QUEUE } from '../lib/temporal/queues';
import { writeShard } from '../lib/webdataset/writer';
import type { embedPool } from '../workflows/embed-pool';
import { inferenceRate } from './inference-rate';
import { recordBenchmark } from './record';

const CORES = availableParallelism();
// Under the data dir: where a worker lets runs read and write (lib/storage/access.ts).
const work = process.env.SEPT_BENCH_DIR ?? join(dataDir(), 'tmp', `septflow-bench-${process.pid}`);
const log = (message: string) => console.error(`[bench:embed] ${message}`);
const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000 * 10) / 10;

function config(name: string, encoder: RunConfigInput['encoder'], sources: RunConfigInput['pool'], store: string): RunConfig {
  return parseRunConfig({ name, pool: sources, target: { preset: 'mnist' }, encoder, store: { uri: join(work, store) }, outputDir: join(work, 'runs'), embed: { window: 8 } });
}

/** Inference alone on pre-built batches: one session using every core, as onnxruntime is usually run. */
function rawInfer(cfg: RunConfig, seconds: number): Promise<number> {
  return inferenceRate({ ...encoderSpecOf(cfg.encoder), intraOpThreads: CORES }, seconds);
}

/** Decode and preprocess alone, one thread per core. */
async function decode(cfg: RunConfig, images: Buffer[], rounds: number): Promise<number> {
  const spec = encoderSpecOf(cfg.encoder);
  const start = Date.now();
  const counts = await Promise.all(
    Array.from({ length: CORES }, (_, t) => {
      const share = images.filter((_, i) => i % CORES === t).map((b) => new Uint8Array(b));
      const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(join(__dirname, 'embed-decode-thread.ts'))});`, {
        eval: true,
        workerData: { images: share, preprocessing: spec.preprocessing, limits: spec.limits, rounds },
      });
      return new Promise<number>((resolve, reject) => worker.once('message', resolve).once('error', reject));
    }),
  );
  return perSecond(counts.reduce((a, b) => a + b, 0), Date.now() - start);
}

async function imagesOf(cfg: RunConfig, limit: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const shard of await listAllShards(cfg.pool.sources)) {
    for await (const s of sourceSamples(shard)) {
      if (out.length === limit) return out;
      out.push(s.image!);
    }
  }
  return out;
}

/**
 * The direct loop (bench/embed-direct.ts) in a fresh process, after a warm-up shard, as the
 * orchestrated runs get a fresh worker process and a warm-up workflow.
 */
function direct(cfg: RunConfig, warmup: RunConfig): Promise<number> {
  const file = join(work, `direct-${cfg.name}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ measured: cfg, warmup }));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'embed-direct.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve((JSON.parse(out.trim().split('\n').at(-1)!) as { perSecond: number }).perSecond) : reject(new Error(`direct loop exited with ${code}`))));
  });
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024);
}

/** embedPool through a dev server and a `sept-cpu` worker process; returns its rate and the worker's peak RSS. */
async function orchestrated(client: Client, address: string, runs: { warmup: RunConfig; measured: RunConfig }, id: string) {
  const worker = spawnWorker('cpu', { address, logDir: join(work, 'logs') });
  try {
    await client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: `${id}-warmup`, args: [runs.warmup] });
    const start = Date.now();
    const result = await client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: id, args: [runs.measured] });
    const ms = Date.now() - start;
    return { perSecond: perSecond(result.samplesEmbedded + result.quarantined, ms), peakRssMb: await peakRssMb(worker.process.pid!) };
  } finally {
    await worker.stop();
  }
}

/** JPEGs of typical photo size (500x375, ~100 kB): smooth gradients plus noise, as photos compress. */
async function photoShard(path: string, count: number): Promise<void> {
  const distinct = await Promise.all(
    Array.from({ length: 32 }, (_, i) =>
      sharp({ create: { width: 500, height: 375, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 60 + i * 4, sigma: 30 } } })
        .blur(0.6)
        .jpeg({ quality: 90 })
        .toBuffer(),
    ),
  );
  await writeShard(path, Array.from({ length: count }, (_, i) => ({ key: `photo-${String(i).padStart(5, '0')}`, files: { jpg: distinct[i % distinct.length] } })));
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

/**
 * The given shards uploaded to an S3-compatible server on loopback (moto), with this process's AWS
 * variables (and so its children's) pointing at it; returns the pool's brace pattern in the bucket.
 */
async function poolInBucket(shards: string[]): Promise<{ pattern: string; stop: () => Promise<void> }> {
  const s3 = await startS3Server({ logFile: join(work, 'logs', 'moto.log') });
  await s3.createBucket('bench-pool');
  Object.assign(process.env, s3.env);
  const store = new ObjectStore('s3://bench-pool/fashion');
  await Promise.all(shards.map((path) => store.put(path, basename(path))));
  const names = shards.map((path) => basename(path, '.tar'));
  const range = `{${names[0].replace(/^\D+/, '')}..${names.at(-1)!.replace(/^\D+/, '')}}`;
  return { pattern: `s3://bench-pool/fashion/${names[0].replace(/\d+$/, '')}${range}.tar`, stop: () => s3.stop() };
}

/** The best of `tries` measurements: other processes on a shared machine only ever slow a run down. */
async function best(tries: number, measure: (attempt: number) => Promise<number>): Promise<number> {
  let top = 0;
  for (let attempt = 0; attempt < tries; attempt++) top = Math.max(top, await measure(attempt));
  return top;
}

function summary(raw: number, decoded: number, e2e: number) {
  const limit = 1 / (1 / raw + 1 / decoded);
  return {
    raw_infer_images_per_s: raw,
    decode_images_per_s: decoded,
    stage_limit_images_per_s: Math.round(limit * 10) / 10,
    e2e_images_per_s: e2e,
    e2e_vs_limit_ratio: ratio(e2e, limit),
  };
}

async function main(): Promise<void> {
  await mkdir(work, { recursive: true });
  // Other processes on the machine skew every figure; the load average says how busy it was.
  const loadBefore = loadavg()[0];
  log(`work folder ${work}; ${CORES} cores; load average ${loadBefore.toFixed(2)}`);
  const demoModel = await ensureTestEncoder(DEMO_CNN, join(work, 'encoders'));
  const resnetModel = await ensureTestEncoder(RESNET18, join(work, 'encoders'));
  const fashion = await demoShards('fashion-mnist', 'train');
  const demoEncoder = { model: demoModel, batchSize: 256 };
  const wds = (name: string, shards: string[]) => ({ sources: [{ kind: 'webdataset' as const, name, shards }] });

  // Demo encoder on demo PNGs.
  const demo10k = config('bench-demo', demoEncoder, wds('fashion-mnist', fashion.slice(0, 10)), 'direct-demo');
  // The orchestrated-versus-direct comparison runs whole stages (checks, listing, compaction included) over 20k images.
  const demo20k = config('bench-demo-20k', demoEncoder, wds('fashion-mnist', fashion.slice(0, 20)), 'direct-demo-20k');
  // The same 20k images streamed from a bucket: what the network path costs next to local disk.
  const bucket = await poolInBucket(fashion.slice(0, 20));
  const demo20kFromBucket = config('bench-demo-20k-s3', demoEncoder, { sources: [{ kind: 'webdataset', name: 'fashion-mnist', shards: bucket.pattern }] }, 'direct-demo-20k-s3');
  log('demo: raw inference');
  const demoRaw = await best(3, () => rawInfer(demo10k, 2));
  log('demo: decode');
  const demoImages = await imagesOf(demo10k, 5000);
  const demoDecode = await best(3, () => decode(demo10k, demoImages, 2));

  // Direct loops and embedPool runs, each in a fresh process after a warm-up, interleaved so that
  // a drift of the shared machine's speed hits both alike; a fresh worker per run for its peak RSS.
  const warmup = config('bench-warmup', demoEncoder, wds('warmup', fashion.slice(59, 60)), 'warmup');
  const fresh = (cfg: RunConfig, store: string): RunConfig => ({ ...cfg, store: { uri: join(work, store) } });
  const server = await startDevServer({ port: 0, headless: true, logFile: join(work, 'logs', 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  let small;
  let large;
  let demoDirect = 0;
  let demoDirectFromBucket = 0;
  let orchestrated20k = 0;
  let direct100k = 0;
  try {
    log('demo: embedPool through Temporal, 10k images (peak RSS)');
    small = await orchestrated(client, server.address, { warmup, measured: fresh(demo10k, 'orchestrated-10k') }, 'bench-small');
    log('demo: 20k images, direct loop from local disk and from the bucket, and embedPool through Temporal, interleaved (best of 3 each)');
    for (let i = 0; i < 3; i++) {
      demoDirect = Math.max(demoDirect, await direct(fresh(demo20k, `direct-20k-${i}`), fresh(warmup, `direct-warmup-${i}`)));
      demoDirectFromBucket = Math.max(demoDirectFromBucket, await direct(fresh(demo20kFromBucket, `direct-20k-s3-${i}`), fresh(warmup, `direct-warmup-s3-${i}`)));
      const run = await orchestrated(client, server.address, { warmup, measured: fresh(demo20k, `orchestrated-20k-${i}`) }, `bench-20k-${i}`);
      orchestrated20k = Math.max(orchestrated20k, run.perSecond);
    }
    // 100k distinct samples: the 80k demo pool plus 20 Fashion-MNIST shards again under another source name.
    const copies = join(work, 'copies');
    await mkdir(copies, { recursive: true });
    await Promise.all(fashion.slice(0, 20).map((p, i) => symlink(p, join(copies, `copy-${String(i).padStart(3, '0')}.tar`)).catch(() => undefined)));
    const pool100k = parseRunConfig({
      ...demo10k,
      name: 'bench-large',
      pool: { sources: [{ kind: 'demo', dataset: 'fashion-mnist', split: 'all' }, { kind: 'demo', dataset: 'mnist', split: 'all' }, { kind: 'webdataset', name: 'copies', shards: copies }] },
    });
    log('demo: 100k images, direct loop, then embedPool through Temporal');
    direct100k = await direct(fresh(pool100k, 'direct-100k'), fresh(warmup, 'direct-warmup-100k'));
    large = await orchestrated(client, server.address, { warmup, measured: fresh(pool100k, 'orchestrated-100k') }, 'bench-large');
  } finally {
    await connection.close();
    await server.stop();
    await bucket.stop();
  }

  // ResNet-18-sized encoder on photo-sized JPEGs.
  await photoShard(join(work, 'photos', 'photos-000.tar'), 320);
  const resnet = config(
    'bench-resnet',
    { model: resnetModel, channels: 3, size: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], batchSize: 32 },
    wds('photos', [join(work, 'photos')]),
    'direct-resnet',
  );
  log('resnet18: raw inference');
  const resnetRaw = await best(2, () => rawInfer(resnet, 5));
  log('resnet18: decode');
  const photos = await imagesOf(resnet, 320);
  const resnetDecode = await best(2, () => decode(resnet, photos, 1));
  log('resnet18: direct loop, 320 images');
  const resnetDirect = await direct(resnet, fresh(resnet, 'direct-resnet-warmup'));

  const figures = {
    cores: CORES,
    load_average_1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round(loadavg()[0] * 100) / 100 },
    note: 'test encoders with RANDOM weights (demo CNN 28x28x1 -> 64, ResNet-18-sized 224x224x3 -> 512)',
    demo: {
      ...summary(demoRaw, demoDecode, demoDirect),
      orchestrated_images_per_s: orchestrated20k,
      direct_100k_images_per_s: direct100k,
      orchestrated_100k_images_per_s: large.perSecond,
      direct_from_bucket_images_per_s: demoDirectFromBucket,
    },
    resnet18: summary(resnetRaw, resnetDecode, resnetDirect),
    // Over the 100k pool (about 10 s of embedding), what orchestration costs in throughput; over
    // 20k images (2 s), its fixed start and finish (about 0.4 s here) weigh in as well.
    orchestrated_vs_direct_ratio: ratio(large.perSecond, direct100k),
    orchestrated_vs_direct_ratio_20k: ratio(orchestrated20k, demoDirect),
    // The 20k pool streamed from moto on loopback against the same pool on local disk (goal >= 0.8).
    s3_vs_local_ratio: ratio(demoDirectFromBucket, demoDirect),
    s3_cache_hit_rate: 'not applicable: shards stream from the bucket into the reader and are never cached on local disk, so a second run reads them again',
    peak_rss_mb_small: small.peakRssMb,
    peak_rss_mb_large: large.peakRssMb,
  };
  recordBenchmark('embed', figures);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
