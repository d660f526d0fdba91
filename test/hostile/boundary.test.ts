// The worker decides, the run asks: every place a run names (configuration fields, a manifest's
// lines, a folder's links, shards and paths that travel in workflow arguments, a trainer variant)
// reaches only the roots and buckets this worker allows (lib/storage/access.ts). Each escape goes
// through the real entry points: the activity that resolves a run configuration, the run's first
// step, source listing, the embedding path (the demo CNN test encoder, RANDOM weights, in
// onnxruntime's embed threads), trainer job preparation and the run's output locations. Each must be
// refused naming its field, before anything outside is opened: every file this process opens,
// reads, lists or writes is recorded (node's fs calls), and none may lie outside the roots, by
// where it really is. No bucket is ever contacted: a bucket refusal comes before any request.
import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import sharp from 'sharp';
import { checkRunInputs } from '../../activities/pipeline';
import { resolveRunConfig } from '../../activities/run-config';
import { listSourceShards } from '../../activities/sources';
import type { RunConfigInput } from '../../lib/config/schema';
import type { SourceSpec } from '../../lib/config/sources';
import { ConfigError, parseRunConfig } from '../../lib/config/validate';
import { Embedder } from '../../lib/embed/embedder';
import { readShardPlanPage, writeShardPlan } from '../../lib/embed/shard-plan';
import { embedShardImages } from '../../lib/embed/shard-vectors';
import { localEncoderSpec } from '../../lib/encoder/model-file';
import { DEMO_CNN, ensureTestEncoder } from '../../lib/encoder/test-encoders';
import { listShards } from '../../lib/sources/list-shards';
import type { ShardRef } from '../../lib/sources/shard-ref';
import { writeLocation } from '../../lib/storage/location';
import { CheckpointMirror, localCheckpoint } from '../../lib/trainer/checkpoint-mirror';
import { prepareTrainerJob } from '../../lib/trainer/job';
import { writeShard } from '../../lib/webdataset/writer';

// A machine in a folder: the worker's data dir, a root it reads, and what lies around them.
const BASE = mkdtempSync(join(tmpdir(), 'septflow-hostile-boundary-'));
const DATA = join(BASE, 'data');
const SHARED = join(BASE, 'shared');
const OUTSIDE = join(BASE, 'outside');
const ALLOWED_BUCKET = 's3://septflow-allowed/runs';
const ENV = { SEPT_DATA_DIR: DATA, SEPT_READ_ROOTS: SHARED, SEPT_BUCKETS: ALLOWED_BUCKET, SEPT_READ_BUCKETS: 's3://septflow-pools/public' };
const saved = Object.fromEntries(Object.keys(ENV).map((k) => [k, process.env[k]]));

/** Bytes that must never reach any output: the sentinel image's pixels, and a secret. */
const SECRET = `boundary-secret-${process.pid}`;
const png = (value: number) => sharp({ create: { width: 28, height: 28, channels: 3, background: { r: value, g: value, b: value } } }).png().toBuffer();

// --- every fs call that opens, reads, lists or writes a path, recorded -------------------------

const touched: string[] = [];
const PATH_CALLS: [object, string[]][] = [
  [fs, ['openSync', 'readFileSync', 'readdirSync', 'opendirSync', 'createReadStream', 'createWriteStream', 'writeFileSync', 'copyFileSync', 'mkdirSync', 'renameSync', 'rmSync']],
  [fs.promises, ['open', 'readFile', 'readdir', 'opendir', 'writeFile', 'appendFile', 'copyFile', 'mkdir', 'rename', 'rm', 'cp']],
];
const originals: [object, string, (...a: unknown[]) => unknown][] = [];
function recordFileCalls(): void {
  for (const [owner, names] of PATH_CALLS) {
    for (const name of names) {
      const target = owner as Record<string, (...a: unknown[]) => unknown>;
      const original = target[name];
      originals.push([owner, name, original]);
      target[name] = function (this: unknown, ...args: unknown[]) {
        for (const a of args.slice(0, 2)) if (typeof a === 'string' && isAbsolute(a)) touched.push(a);
        return original.apply(this, args);
      };
    }
  }
}
/** Where a recorded path really is (its nearest existing parent's real path, for one not there). */
function realOf(path: string): string {
  for (let at = path, rest = ''; ; rest = join(at.slice(dirname(at).length), rest), at = dirname(at)) {
    try {
      return join(realpathSync(at), rest);
    } catch {
      if (dirname(at) === at) return path;
    }
  }
}
/** Where the sentinels are: the folder outside the roots, and the system's own files. */
const isSentinelArea = (path: string) => {
  const real = realOf(path);
  const rel = relative(realOf(OUTSIDE), real);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)) || real.startsWith('/etc/');
};

// --- the machine's files ------------------------------------------------------------------------

let model: string;
before(async () => {
  for (const d of [DATA, SHARED, OUTSIDE]) mkdirSync(d, { recursive: true });
  // Outside the roots: a pool shard, a folder of images, a manifest, a model, a checkpoint; each
  // holds the sentinel image or the secret, which no output may ever show.
  const sentinel = await png(201);
  writeFileSync(join(OUTSIDE, 'sentinel.png'), sentinel);
  writeFileSync(join(OUTSIDE, 'secret.txt'), `${SECRET}\n`);
  mkdirSync(join(OUTSIDE, 'images', 'cls'), { recursive: true });
  writeFileSync(join(OUTSIDE, 'images', 'cls', 'leak.png'), sentinel);
  writeFileSync(join(OUTSIDE, 'manifest.jsonl'), `${JSON.stringify({ id: 'leak', uri: 'sentinel.png', label: 0 })}\n`);
  writeFileSync(join(OUTSIDE, 'model.onnx'), DEMO_CNN.build());
  writeFileSync(join(OUTSIDE, 'checkpoint-00000050.pt'), SECRET);
  process.env.SEPT_DATA_DIR = BASE; // the shard writer writes only inside a data dir
  await writeShard(join(OUTSIDE, 'pool-000.tar'), [{ key: 'leak', files: { png: sentinel } }]);
  Object.assign(process.env, ENV);

  // Inside: a folder of good images with links that lead out, a manifest in the read root.
  for (let i = 0; i < 4; i++) {
    mkdirSync(join(DATA, 'photos', 'cls'), { recursive: true });
    writeFileSync(join(DATA, 'photos', 'cls', `good-${i}.png`), await png(10 + i * 40));
  }
  symlinkSync(join(OUTSIDE, 'sentinel.png'), join(DATA, 'photos', 'cls', 'escape.png'));
  symlinkSync(join(OUTSIDE, 'images'), join(DATA, 'photos', 'linked'));
  symlinkSync(join(DATA, 'photos'), join(DATA, 'photos', 'cls', 'loop'));
  symlinkSync(OUTSIDE, join(DATA, 'outside-link'));
  symlinkSync(join(OUTSIDE, 'model.onnx'), join(DATA, 'model-link.onnx'));
  writeFileSync(join(SHARED, 'a.png'), await png(77));
  writeFileSync(join(SHARED, 'labeled.jsonl'), `${JSON.stringify({ id: 'a', uri: 'a.png', label: 0 })}\n`);
  model = await ensureTestEncoder(DEMO_CNN, join(DATA, 'encoders'));
  recordFileCalls();
});

after(async () => {
  await Embedder.closeAll();
  // Judged while the links are still there to follow.
  const strays = [...new Set(touched)].filter(isSentinelArea);
  for (const [owner, name, original] of originals) (owner as Record<string, unknown>)[name] = original;
  rmSync(BASE, { recursive: true, force: true });
  for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  assert.deepEqual(strays, [], 'nothing outside the roots was opened, read, listed or written');
});

// --- runs as a namespace user may start them ----------------------------------------------------

const goodPool: SourceSpec = { kind: 'folder', path: 'photos', shardSize: 1000 };
const goodTarget = { train: { kind: 'manifest', path: join(SHARED, 'labeled.jsonl') }, test: { kind: 'manifest', path: join(SHARED, 'labeled.jsonl') } } as const;
const run = (extra: Partial<RunConfigInput>): RunConfigInput => ({ name: 'boundary', pool: { sources: [goodPool] }, target: goodTarget, ...extra }) as RunConfigInput;

/** A non-retryable failure whose message names the field, and shows no secret. */
function refusal(type: string, field: string, why = /is outside the (roots|buckets) this worker (reads|writes)/) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.nonRetryable, true, err.message);
    assert.equal(err.type, type);
    assert.ok(err.message.includes(`${field}: `), `${err.message} names ${field}`);
    assert.match(err.message, why);
    assert.ok(!err.message.includes(SECRET));
    return true;
  };
}

/** A ConfigError from a lib function, naming the field. */
function configError(field: string, why = /is outside the (roots|buckets) this worker (reads|writes)/) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err.issues[0].startsWith(`${field}: `), `${err.issues[0]} names ${field}`);
    assert.match(err.issues[0], why);
    return true;
  };
}

describe('a run configuration that reaches past the worker', { timeout: 30_000 }, () => {
  const escapes: [string, string, Partial<RunConfigInput>][] = [
    ['the root folder as a pool', 'pool.sources[0].path', { pool: { sources: [{ kind: 'folder', path: '/' }] } }],
    ['an absolute shard path outside', 'pool.sources[0].shards', { pool: { sources: [{ kind: 'webdataset', shards: join(OUTSIDE, 'pool-000.tar') }] } }],
    ['a relative shard path with ..', 'pool.sources[0].shards[1]', { pool: { sources: [{ kind: 'webdataset', shards: ['photos', '../outside/pool-{000..000}.tar'] }] } }],
    ['a shard glob through a link', 'pool.sources[0].shards', { pool: { sources: [{ kind: 'webdataset', shards: 'outside-link/*.tar' }] } }],
    ['a manifest outside', 'target.train.path', { target: { ...goodTarget, train: { kind: 'manifest', path: join(OUTSIDE, 'manifest.jsonl') } } }],
    ['a folder beside the data dir, named alike', 'target.test.path', { target: { ...goodTarget, test: { kind: 'folder', path: `${DATA}2` } } }],
    ['an encoder model outside', 'encoder.model', { encoder: { model: join(OUTSIDE, 'model.onnx') } }],
    ['an encoder model through a link', 'encoder.model', { encoder: { model: 'model-link.onnx' } }],
    ["dedup's copy detector outside", 'dedup.encoder.model', { dedup: { enabled: true, encoder: { model: join(OUTSIDE, 'model.onnx') } } }],
    ["dedup's copy detector through a link", 'dedup.encoder.model', { dedup: { enabled: true, encoder: { model: 'model-link.onnx' } } }],
    ['an output folder outside', 'outputDir', { outputDir: join(OUTSIDE, 'runs') }],
    ['an output folder in the read-only root', 'outputDir', { outputDir: join(SHARED, 'runs') }],
    ['an output folder up and out', 'outputDir', { outputDir: '../outside/runs' }],
    ['a vector store outside', 'store.uri', { store: { uri: join(OUTSIDE, 'lancedb') } }],
    ['a pool in a bucket not allowed', 'pool.sources[0].shards', { pool: { sources: [{ kind: 'webdataset', shards: 's3://septflow-other/pool/*.tar' }] } }],
    ['a pool in a bucket prefix named alike', 'pool.sources[0].path', { pool: { sources: [{ kind: 'folder', path: 's3://septflow-pools/public2' }] } }],
    ['outputs in a read-only bucket', 'outputDir', { outputDir: 's3://septflow-pools/public/runs' }],
    ['outputs in a bucket prefix named alike', 'outputDir', { outputDir: `${ALLOWED_BUCKET}2` }],
    ['a vector store in another bucket', 'store.uri', { store: { uri: 's3://septflow-other/lancedb' } }],
    ['checkpoints in another bucket', 'trainer.checkpointUri', { trainer: { checkpointUri: 's3://septflow-other/ckpt' } }],
  ];
  for (const [what, field, extra] of escapes) {
    it(`refuses ${what} when the configuration is resolved, naming ${field}`, async () => {
      await assert.rejects(resolveRunConfig(run(extra)), refusal('InvalidRunConfig', field));
    });
  }

  it('refuses a key with .. and a store of another scheme', async () => {
    await assert.rejects(resolveRunConfig(run({ outputDir: `${ALLOWED_BUCKET}/../secrets` })), refusal('InvalidRunConfig', 'outputDir', /a key with \. or \.\. parts is refused/));
    await assert.rejects(resolveRunConfig(run({ store: { uri: 'file:///etc' } })), refusal('InvalidRunConfig', 'store.uri', /only local paths and s3:\/\/ URIs/));
  });

  it('resolves a run that stays inside: the data dir, a read root, an allowed bucket', async () => {
    const config = await resolveRunConfig(run({ encoder: { model }, outputDir: ALLOWED_BUCKET, trainer: { checkpointUri: `${ALLOWED_BUCKET}/ckpt` } }));
    assert.equal(config.outputDir, ALLOWED_BUCKET);
  });
});

describe("a manifest's lines", { timeout: 30_000 }, () => {
  const withLines = (name: string, lines: object[]) => {
    const path = join(DATA, name);
    writeFileSync(path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    return path;
  };

  for (const [what, uri] of [
    ['a file:// URI of the shadow file', 'file:///etc/shadow'],
    ['a file:// URI of the sentinel', `file://${join(OUTSIDE, 'sentinel.png')}`],
    ['an absolute path outside', join(OUTSIDE, 'sentinel.png')],
    ['a relative path up and out', '../outside/sentinel.png'],
    ['a path through a link', 'outside-link/sentinel.png'],
    ['an object in a bucket not allowed', 's3://septflow-other/x.png'],
  ] as const) {
    it(`fails the run's first step on ${what}, naming the line, before any image is read`, async () => {
      const manifest = withLines(`target-${what.replace(/\W+/g, '-')}.jsonl`, [{ id: 'ok', uri: join(SHARED, 'a.png'), label: 0 }, { id: 'leak', uri, label: 0 }]);
      const config = parseRunConfig(run({ target: { train: { kind: 'manifest', path: manifest }, test: goodTarget.test } }));
      await assert.rejects(checkRunInputs(config), refusal('ConfigError', `target.train.path line 2 (uri ${uri})`));
      await assert.rejects(listSourceShards([{ kind: 'manifest', path: manifest, shardSize: 1000 }]), refusal('ConfigError', `sources[0].path line 2 (uri ${uri})`));
    });
  }

  it('quarantines, unread, a line of a scheme no worker reads', async () => {
    const manifest = withLines('other-scheme.jsonl', [{ id: 'web', uri: 'http://169.254.169.254/latest/meta-data', label: 0 }]);
    const [shard] = await listShards({ kind: 'manifest', path: manifest, shardSize: 10 });
    const vectors = await embedShardImages(shard, await localEncoderSpec(parseRunConfig(run({ encoder: { model } })).encoder));
    assert.deepEqual(vectors.ids, []);
    assert.equal(vectors.quarantined.length, 1);
  });
});

describe('a folder whose links lead out', { timeout: 30_000 }, () => {
  it('lists and embeds the folder\'s own images exactly once, never following a link', async () => {
    const shards = await listShards({ kind: 'folder', path: 'photos', shardSize: 3 }, 'pool.sources[0]');
    const spec = await localEncoderSpec(parseRunConfig(run({ encoder: { model } })).encoder);
    const ids: string[] = [];
    for (const shard of shards) {
      const vectors = await embedShardImages(shard, spec);
      ids.push(...vectors.ids);
      assert.deepEqual(vectors.quarantined, []);
    }
    assert.deepEqual(ids.sort(), [0, 1, 2, 3].map((i) => `photos/cls/good-${i}`));
  });
});

describe('shards and paths in workflow arguments, which anyone who can start a workflow writes', { timeout: 30_000 }, () => {
  let spec: Awaited<ReturnType<typeof localEncoderSpec>>;
  before(async () => (spec = await localEncoderSpec(parseRunConfig(run({ encoder: { model } })).encoder)));

  const crafted: [string, ShardRef, string][] = [
    ['a tar shard outside', { id: 'pool/leak', source: 'pool', path: join(OUTSIDE, 'pool-000.tar') }, 'source file'],
    ['a tar shard through a link', { id: 'pool/leak', source: 'pool', path: join(DATA, 'outside-link', 'pool-000.tar') }, 'source file'],
    ['a folder shard outside', { id: 'pool/000000', source: 'pool', path: join(OUTSIDE, 'images'), format: 'folder', span: ['', 'zzz'] }, 'shard pool/000000 (path)'],
    ['a manifest shard outside', { id: 'pool/000000', source: 'pool', path: join(OUTSIDE, 'manifest.jsonl'), format: 'manifest', range: [0, 1000] }, 'source file'],
  ];
  for (const [what, ref, field] of crafted) {
    it(`refuses to embed ${what}`, async () => {
      await assert.rejects(embedShardImages(ref, spec), configError(field));
    });
  }

  it('refuses to embed a manifest shard inside whose line leads out', async () => {
    const line = `${JSON.stringify({ id: 'leak', uri: join(OUTSIDE, 'sentinel.png') })}\n`;
    const manifest = join(DATA, 'crafted.jsonl');
    writeFileSync(manifest, line);
    const ref: ShardRef = { id: 'pool/000000', source: 'pool', path: manifest, format: 'manifest', range: [0, line.length] };
    await assert.rejects(embedShardImages(ref, spec), configError('source file'));
  });

  it("refuses a shard plan read from outside, and one written there; the secret's bytes show nowhere", async () => {
    await assert.rejects(readShardPlanPage({ path: join(OUTSIDE, 'secret.txt'), total: 1 }, 0, 1), (err: unknown) => {
      configError('location', /is outside the roots this worker reads/)(err);
      assert.ok(!(err as Error).message.includes(SECRET));
      return true;
    });
    await assert.rejects(writeShardPlan([goodPool], join(OUTSIDE, 'plan.jsonl')), configError('location', /is outside the roots this worker writes/));
    await assert.rejects(writeLocation('s3://septflow-other/plan.jsonl', 'x'), configError('location', /is outside the buckets this worker writes/));
    assert.equal(existsSync(join(OUTSIDE, 'plan.jsonl')), false);
  });

  it('refuses a trainer variant that is a path, before the job has a folder', async () => {
    const config = parseRunConfig(run({}));
    const log = { info: () => undefined, warn: () => undefined, debug: () => undefined };
    for (const variant of ['../../../outside/job', '..', 'a/b']) {
      await assert.rejects(prepareTrainerJob({ config, stage: 'pretrain', job: 'pretrain', variant, train: [goodPool], numClasses: 1 }, log), configError('variant', /is not a folder name/));
    }
    assert.equal(existsSync(join(OUTSIDE, 'job')), false);
  });

  it('refuses a pre-trained checkpoint outside, and a checkpoint mirror in another bucket', async () => {
    const config = parseRunConfig(run({}));
    await assert.rejects(localCheckpoint(config, join(OUTSIDE, 'checkpoint-00000050.pt')), configError('pretrainedCheckpoint'));
    await assert.rejects(localCheckpoint(config, 's3://septflow-other/ckpt.pt'), configError('pretrainedCheckpoint'));
    const mirrored = parseRunConfig(run({ trainer: { checkpointUri: 's3://septflow-other/ckpt' } }));
    assert.throws(() => CheckpointMirror.forStage(mirrored, 3, { info: () => undefined, warn: () => undefined }), configError('trainer.checkpointUri', /is outside the buckets this worker writes/));
  });
});
