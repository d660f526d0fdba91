// Trainer checkpoints on S3-compatible object storage (moto's server): GPU workers that share no
// filesystem (each its own SEPT_DATA_DIR) resume each other's work through `trainer.checkpointUri`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnWorker } from '../../../infra/local-stack';
import { startS3Server, type S3Server } from '../../../infra/s3-server';
import type { RunConfigInput } from '../../../lib/config/schema';
import { parseRunConfig } from '../../../lib/config/validate';
import { demoShards } from '../../../lib/demo/materialize';
import { dataDir } from '../../../lib/paths';
import { ObjectStore, ObjectStoreError } from '../../../lib/object-store';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import { CheckpointMirror, checkpointKeys, localCheckpoint, type MirrorLog } from '../../../lib/trainer/checkpoint-mirror';
import { latestCheckpoint } from '../../../lib/trainer/checkpoints';
import { KEEP_CHECKPOINTS } from '../../../lib/trainer/stage-config';
import type { trainModel } from '../../../workflows/train-model';
import { pidsMatching, waitFor } from '../../support/processes';
import { listKeys } from '../../support/s3';
import { startTestTemporal, type TestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

const BUCKET = 'septflow-checkpoints';
const quiet: MirrorLog = { info: () => {}, warn: () => {} };

/** A fake checkpoint file `checkpoint-<step>.pt` in a stage's checkpoint folder. */
async function fakeCheckpoint(dir: string, step: number): Promise<{ path: string; step: number }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `checkpoint-${String(step).padStart(8, '0')}.pt`);
  await writeFile(path, `weights at step ${step}`);
  return { path, step };
}

describe('trainer checkpoints on S3-compatible object storage', () => {
  const dir = tempDir('septflow-s3-ckpt-');
  // Every machine reads the demo shards, and the others' local outputs (the labeled target set the
  // CPU machine writes), where they are, as from shared read-only volumes; it writes its own data
  // dir and the bucket only.
  const readRoots = [join(dataDir(), 'demo'), dir].join(':');
  let s3: S3Server;
  let temporal: TestTemporal;
  const saved: Record<string, string | undefined> = {};
  const setEnv = (vars: Record<string, string>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (!(k in saved)) saved[k] = process.env[k];
      process.env[k] = v;
    }
  };

  before(async () => {
    const started = Date.now();
    [s3, temporal] = await Promise.all([startS3Server({ logFile: join(dir, 'moto.log') }), startTestTemporal()]);
    console.log(`moto and the dev server up in ${Date.now() - started} ms`);
    await s3.createBucket(BUCKET);
    // Configured the way a worker is: the standard AWS variables, nothing else.
    setEnv(s3.env);
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await temporal?.stop();
    await s3?.stop();
  });

  it('names the URI, and tells a misconfigured store from an unreachable one', async () => {
    const missing = new ObjectStore('s3://no-such-bucket/x');
    await assert.rejects(missing.list('a/'), (err: ObjectStoreError) => {
      assert.ok(err instanceof ObjectStoreError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /s3:\/\/no-such-bucket\/x\/a\/.*NoSuchBucket/);
      return true;
    });
    const down = new ObjectStore('s3://bucket/x', { ...s3.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    await assert.rejects(down.put(__filename, 'f'), (err: ObjectStoreError) => {
      assert.equal(err.retryable, true);
      assert.match(err.message, /s3:\/\/bucket\/x\/f unreachable/);
      return true;
    });
  });

  it('mirrors serially, retries a failed upload with the next checkpoint, prunes, and restores a newer checkpoint', async () => {
    const outputDir = join(dir, 'mirror-unit');
    const late = 'septflow-late-bucket';
    // The worker is given a bucket that the store does not have yet.
    setEnv({ SEPT_BUCKETS: `${s3.env.SEPT_BUCKETS},s3://${late}` });
    const config = parseRunConfig({ demo: true, name: 'unit', outputDir, trainer: { checkpointUri: `s3://${late}/ckpt` } });
    const checkpoints = join(outputDir, 'unit', 'train', 'main', 'pretrain', 'checkpoints');
    const mirror = CheckpointMirror.forStage(config, 2, quiet)!;
    mirror.checkpointWritten(await fakeCheckpoint(checkpoints, 5));
    await mirror.settle(); // the bucket does not exist yet: logged, not thrown
    await s3.createBucket(late);
    for (const step of [10, 15, 20]) {
      mirror.checkpointWritten(await fakeCheckpoint(checkpoints, step));
      await mirror.settle();
    }
    await mirror.flush();
    const keys = await listKeys(s3, late, 'ckpt/unit/train/main/pretrain/checkpoints/');
    // Step 5 was superseded by step 10 before its retry; 10 was pruned (keep 2).
    assert.deepEqual(
      checkpointKeys(keys).map((c) => c.step),
      [15, 20],
    );

    // Another machine (another output folder) finds the mirror newer than its empty folder.
    const elsewhere = parseRunConfig({ demo: true, name: 'unit', outputDir: join(dir, 'machine-b'), trainer: { checkpointUri: `s3://${late}/ckpt` } });
    const localB = join(dir, 'machine-b', 'unit', 'train', 'main', 'pretrain', 'checkpoints');
    await fakeCheckpoint(localB, 10);
    const restored = await CheckpointMirror.forStage(elsewhere, 2, quiet)!.restore(localB);
    assert.equal(restored?.step, 20);
    assert.equal((await latestCheckpoint(localB))?.step, 20);
    assert.equal(readFileSync(join(localB, 'checkpoint-00000020.pt'), 'utf8'), 'weights at step 20');
    assert.equal(await CheckpointMirror.forStage(elsewhere, 2, quiet)!.restore(localB), undefined, 'nothing newer the second time');
  });

  it('resumes a pre-training killed on one machine from its S3 checkpoint on another', async () => {
    const poolShards = (await demoShards('mnist', 'train')).slice(0, 2);
    const [testShard] = await demoShards('mnist', 'test');
    const [machineA, machineB, cpuMachine] = ['gpu-a', 'gpu-b', 'cpu'].map((m) => join(dir, m));
    // Each process resolves the relative outputDir under its own data dir: nothing of a stage is shared but the bucket.
    setEnv({ SEPT_DATA_DIR: cpuMachine, SEPT_READ_ROOTS: readRoots });
    const config: RunConfigInput = {
      name: 's3-ckpt',
      outputDir: 'runs',
      pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: poolShards }] },
      target: { train: { kind: 'webdataset', name: 'mnist-train', shards: [poolShards[0]] }, test: { kind: 'webdataset', name: 'mnist-test', shards: [testShard] }, labelsPerClass: 5 },
      pretrain: { steps: 50, batchSize: 32 },
      trainer: { checkpointEverySteps: 5, heartbeatTimeout: '10s', maxAttempts: 3, threads: 1, checkpointUri: `s3://${BUCKET}/mirror` },
    };
    const stage = join('s3-ckpt', 'train', 'main', 'pretrain');
    const prefix = 'mirror/s3-ckpt/train/main/pretrain/checkpoints/';
    const logDir = join(dir, 'logs');
    const first = spawnWorker('gpu', { address: temporal.server.address, logDir, env: { ...s3.env, SEPT_DATA_DIR: machineA } });
    let second: ReturnType<typeof spawnWorker> | undefined;
    let remoteAtKill: number[] = [];
    try {
      const result = await withWorkers(
        temporal,
        async () => {
          const handle = await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: 'test/s3-checkpoints', args: [config, { pretrainOnly: true }] });
          await waitFor('a first checkpoint in the bucket', async () => (await listKeys(s3, BUCKET, prefix)).length > 0);
          await first.stop('SIGKILL');
          remoteAtKill = checkpointKeys(await listKeys(s3, BUCKET, prefix)).map((c) => c.step);
          const trainerOfA = join(machineA, 'runs', stage, 'pretrain.config.json');
          await waitFor('the orphaned trainer to exit', () => pidsMatching(trainerOfA).length === 0, 60_000);
          second = spawnWorker('gpu', { address: temporal.server.address, logDir, env: { ...s3.env, SEPT_DATA_DIR: machineB } });
          return handle.result();
        },
        ['cpu'],
      );

      const localA = await latestCheckpoint(join(machineA, 'runs', stage, 'checkpoints'));
      const resumed = result.progress.jobs.pretrain;
      console.log(`in the bucket at the kill: steps ${remoteAtKill}; machine A's own newest: ${localA?.step}; B resumed from ${resumed.resumedFromStep}`);
      assert.equal(resumed.attempt, 2);
      assert.ok(resumed.resumedFromStep >= 5, `resumed from step ${resumed.resumedFromStep}, not 0`);
      assert.equal(resumed.resumedFromStep, remoteAtKill.at(-1), 'from the newest checkpoint in the bucket');
      assert.ok(result.pretrainedCheckpoint?.startsWith(join(machineB, 'runs', stage, 'checkpoints')), result.pretrainedCheckpoint);
      assert.equal((await latestCheckpoint(join(machineB, 'runs', stage, 'checkpoints')))?.step, 50);

      // In the bucket: the newest checkpoints (pruned like the local folder) and the final artifacts.
      const keys = await listKeys(s3, BUCKET, 'mirror/s3-ckpt/');
      const mirrored = checkpointKeys(keys.filter((k) => k.startsWith(prefix))).map((c) => c.step);
      assert.equal(mirrored.length, KEEP_CHECKPOINTS, `pruned to the newest ${KEEP_CHECKPOINTS}: ${mirrored}`);
      assert.equal(mirrored.at(-1), 50);
      assert.ok(keys.includes('mirror/s3-ckpt/train/main/evaluate-pretrained/metrics.json'), keys.join('\n'));

      // A third machine, which cannot see B's files, gets the pre-trained weights (a finetune's
      // initCheckpoint) from the bucket.
      const weights = readFileSync(result.pretrainedCheckpoint!);
      await rm(machineB, { recursive: true });
      const onC = await localCheckpoint(parseRunConfig(config), result.pretrainedCheckpoint!);
      assert.equal(onC, join(cpuMachine, 'runs', stage, 'checkpoints', 'checkpoint-00000050.pt'));
      assert.deepEqual(readFileSync(onC), weights);
    } finally {
      await first.stop('SIGKILL');
      await second?.stop();
    }
  });
  it('uploads the stop checkpoint of a GPU worker told to stop before it exits; another machine resumes from it', async () => {
    const poolShards = (await demoShards('mnist', 'train')).slice(0, 2);
    const [machineA, machineB, cpuMachine] = ['stop-gpu-a', 'stop-gpu-b', 'stop-cpu'].map((m) => join(dir, m));
    setEnv({ SEPT_DATA_DIR: cpuMachine, SEPT_READ_ROOTS: readRoots });
    const config: RunConfigInput = {
      name: 's3-stop',
      outputDir: 'runs',
      pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards: poolShards }] },
      target: { labelsPerClass: 5 },
      // The stop is asked at step 10 and takes a step: the rest is margin, and machine B trains it all.
      pretrain: { steps: 100, batchSize: 32 },
      // No periodic checkpoint before the end: the only one mid-run is the stop checkpoint.
      trainer: { checkpointEverySteps: 1000, heartbeatTimeout: '5m', maxAttempts: 3, threads: 1, checkpointUri: `s3://${BUCKET}/mirror` },
    };
    const stage = join('s3-stop', 'train', 'main', 'pretrain');
    const prefix = 'mirror/s3-stop/train/main/pretrain/checkpoints/';
    const eventsOfA = join(machineA, 'runs', stage, 'events.jsonl');
    const progressed = () => {
      try {
        return readFileSync(eventsOfA, 'utf8').split('\n').slice(0, -1).some((l) => /"event":"progress"/.test(l) && (JSON.parse(l) as { step: number }).step >= 10);
      } catch {
        return false;
      }
    };
    const logDir = join(dir, 'logs-stop');
    const env = { ...s3.env, SEPT_SHUTDOWN_GRACE: '60s' };
    const first = spawnWorker('gpu', { address: temporal.server.address, logDir, env: { ...env, SEPT_DATA_DIR: machineA } });
    let second: ReturnType<typeof spawnWorker> | undefined;
    try {
      const result = await withWorkers(
        temporal,
        async () => {
          const handle = await temporal.client.workflow.start<typeof trainModel>('trainModel', { taskQueue: CPU_QUEUE, workflowId: 'test/s3-stop', args: [config, { pretrainOnly: true }] });
          await waitFor('the trainer past step 10', progressed, 180_000);
          assert.deepEqual(await listKeys(s3, BUCKET, prefix), [], 'no checkpoint in the bucket before the stop');
          first.process.kill('SIGTERM');
          const code = await new Promise<number | null>((resolve) => first.process.once('exit', resolve));
          assert.equal(code, 0, 'a clean exit within the grace');
          // Uploaded before the worker exited: the bucket has it the moment the process is gone.
          const stopped = checkpointKeys(await listKeys(s3, BUCKET, prefix)).map((c) => c.step);
          assert.equal(stopped.length, 1, `the stop checkpoint alone: ${stopped}`);
          assert.ok(stopped[0] >= 10, `stop checkpoint at step ${stopped[0]}`);
          second = spawnWorker('gpu', { address: temporal.server.address, logDir, env: { ...env, SEPT_DATA_DIR: machineB } });
          return Object.assign(await handle.result(), { stopStep: stopped[0] });
        },
        ['cpu'],
      );
      const resumed = result.progress.jobs.pretrain;
      console.log(`stop checkpoint at step ${result.stopStep}; machine B resumed attempt ${resumed.attempt} from step ${resumed.resumedFromStep}`);
      assert.equal(resumed.attempt, 2);
      assert.equal(resumed.resumedFromStep, result.stopStep, 'machine B, which never saw A\'s folder, resumed from the stop checkpoint');
      assert.equal((await latestCheckpoint(join(machineB, 'runs', stage, 'checkpoints')))?.step, 100);
    } finally {
      await first.stop('SIGKILL');
      await second?.stop();
    }
  });
});
