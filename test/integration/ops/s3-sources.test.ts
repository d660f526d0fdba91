// Pools and targets in a bucket (moto's server), configured by the standard AWS variables only:
// shard patterns listed page by page, shards streamed into embedPool (demo CNN test encoder, RANDOM
// weights), manifests and folders in the bucket, bad input at the first step. A proxy between the
// client and moto breaks one stream mid-shard the way a network does, so the real client resumes it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startS3Server, type S3Server } from '../../../infra/s3-server';
import { parseRunConfig } from '../../../lib/config/validate';
import { Embedder } from '../../../lib/embed/embedder';
import { embedShardImages } from '../../../lib/embed/shard-vectors';
import { DEMO_CNN } from '../../../lib/encoder/test-encoders';
import { encoderSpecOf } from '../../../lib/encoder/spec';
import { ObjectStoreError } from '../../../lib/object-store';
import { checkRunInputs } from '../../../lib/pipeline/check-inputs';
import { listBucketShards } from '../../../lib/sources/bucket-shards';
import { listShards } from '../../../lib/sources/list-shards';
import { sourceSamples } from '../../../lib/sources/samples';
import type { ShardRef } from '../../../lib/sources/shard-ref';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { embedPool } from '../../../workflows/embed-pool';
import { demoEmbedConfig, fashionShards, storedVectors } from '../../support/embedding';
import { type CuttingProxy, deleteObject, putObject, setEnv, startCuttingProxy } from '../../support/s3';
import { startTestTemporal, type TestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

const BUCKET = 'septflow-pool';

async function samplesOf(ref: ShardRef): Promise<{ id: string; label?: string; image?: Buffer }[]> {
  const out = [];
  for await (const { id, label, image } of sourceSamples(ref)) out.push({ id, label, image });
  return out;
}

describe('pools and targets in a bucket', () => {
  const dir = tempDir('septflow-s3-sources-');
  let s3: S3Server;
  let proxy: CuttingProxy;
  let temporal: TestTemporal;
  let restoreEnv = () => {};

  before(async () => {
    [s3, temporal] = await Promise.all([startS3Server({ logFile: join(dir, 'moto.log') }), startTestTemporal()]);
    await s3.createBucket(BUCKET);
    proxy = await startCuttingProxy(s3);
    // Configured the way a worker is: the standard AWS variables, the endpoint being the proxy.
    restoreEnv = setEnv({ ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint });
  });
  after(async () => {
    await Embedder.closeAll();
    restoreEnv();
    await proxy?.stop();
    await temporal?.stop();
    await s3?.stop();
  });

  it('lists a brace range and a glob over several ListObjectsV2 pages, and names a shard the range lacks', async () => {
    for (let i = 0; i < 5; i++) await putObject(s3, BUCKET, `paged/pool-${String(i).padStart(3, '0')}.tar`, `shard ${i}`);
    await putObject(s3, BUCKET, 'paged/pool-notes.txt', 'not a shard');
    await putObject(s3, BUCKET, 'paged/deeper/pool-005.tar', 'one level down');
    const listings = () => proxy.requests.filter((r) => r.url.includes('list-type=2')).length;
    const before = listings();
    const range = await listBucketShards(`s3://${BUCKET}/paged/pool-{000..004}.tar`, { pageSize: 2 });
    assert.deepEqual(range.map((s) => s.path), [0, 1, 2, 3, 4].map((i) => `s3://${BUCKET}/paged/pool-00${i}.tar`));
    assert.ok(range.every((s) => /^"[0-9a-f]{32}"$/.test(s.version) && s.bytes === 7), JSON.stringify(range[0]));
    assert.ok(listings() - before >= 3, `${listings() - before} ListObjectsV2 pages`);
    const glob = await listBucketShards(`s3://${BUCKET}/paged/*.tar`, { pageSize: 2 });
    assert.deepEqual(glob, range);
    assert.deepEqual(await listBucketShards(`s3://${BUCKET}/paged/`, { pageSize: 2 }), range, 'a prefix lists the shards right under it');
    await assert.rejects(listBucketShards(`s3://${BUCKET}/paged/pool-{000..005}.tar`, { pageSize: 2 }), new RegExp(`no such shard: s3://${BUCKET}/paged/pool-005\\.tar$`));
  });

  it('embeds a pool streamed from the bucket through embedPool, as from local disk', { timeout: 180_000 }, async () => {
    const local = await fashionShards(2);
    for (const [i, path] of local.entries()) await putObject(s3, BUCKET, `fashion/shard-${String(i).padStart(6, '0')}.tar`, readFileSync(path));
    const config = await demoEmbedConfig(join(dir, 'embed'), await fashionShards(1));
    const input = { ...config, pool: { sources: [{ kind: 'webdataset' as const, name: 'fashion-mnist', shards: `s3://${BUCKET}/fashion/shard-{000000..000001}.tar` }] } };
    const result = await withWorkers(temporal, () => temporal.client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: 'embed-from-bucket', args: [input] }));
    assert.equal(result.samplesEmbedded, 2000);
    const stored = await storedVectors(config.store.uri, result.encoderId, DEMO_CNN.dims);
    assert.equal(new Set(stored.ids).size, 2000);
    const spec = encoderSpecOf(config.encoder);
    const direct = await embedShardImages((await listShards({ kind: 'webdataset', name: 'fashion-mnist', shards: local[1] }))[0], spec);
    direct.ids.forEach((id, i) => {
      const row = stored.byId.get(id)!;
      for (let d = 0; d < DEMO_CNN.dims; d++) assert.ok(Math.abs(row[d] - direct.vectors[i * DEMO_CNN.dims + d]) <= 1e-6, `${id}[${d}] differs`);
    });
  });

  it('resumes a stream broken mid-shard where it stopped, at the listed version', async () => {
    const local = (await fashionShards(3))[2];
    await putObject(s3, BUCKET, 'resume/shard-000002.tar', readFileSync(local));
    const [ref] = await listShards({ kind: 'webdataset', name: 'fashion-mnist', shards: `s3://${BUCKET}/resume/shard-000002.tar` });
    proxy.arm({ url: /resume\/shard-000002\.tar/, afterBytes: 1_000_000 });
    const fromBucket = await samplesOf(ref);
    assert.equal(proxy.cuts, 1);
    const resumed = proxy.requests.filter((r) => r.url.includes('resume/shard-000002.tar') && r.range);
    assert.deepEqual(resumed.map((r) => [r.range, r.ifMatch, r.status]), [['bytes=1000000-', ref.version, 206]]);
    const fromDisk = await samplesOf((await listShards({ kind: 'webdataset', name: 'fashion-mnist', shards: local }))[0]);
    assert.equal(fromBucket.length, 1000);
    assert.deepEqual(fromBucket, fromDisk);
  });

  it('fails a shard that changed while it was read, naming it, with only the first version\'s samples read', async () => {
    const [oldPath, replacementPath] = (await fashionShards(5)).slice(3);
    const [old, replacement] = [oldPath, replacementPath].map((p) => readFileSync(p));
    await putObject(s3, BUCKET, 'changing/shard.tar', old);
    const [ref] = await listShards({ kind: 'webdataset', shards: `s3://${BUCKET}/changing/shard.tar` });
    proxy.arm({ url: /changing\/shard\.tar/, afterBytes: 600_000, beforeCut: () => putObject(s3, BUCKET, 'changing/shard.tar', replacement) });
    const read: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const s of sourceSamples(ref)) read.push(s.image!);
      })(),
      new RegExp(`shard s3://${BUCKET}/changing/shard\\.tar: unreadable \\(object storage s3://${BUCKET}/changing/shard\\.tar: the object changed while it was read .*\\) at byte offset \\d+`),
    );
    assert.ok(read.length > 0, 'samples were read from the stream before it broke: it is not downloaded first');
    const oldImages = (await samplesOf((await listShards({ kind: 'webdataset', shards: oldPath }))[0])).map((s) => s.image!);
    assert.ok(read.every((image, i) => image.equals(oldImages[i])), 'every sample read is the first version\'s');
  });

  it('reads a manifest in the bucket with keys relative to it, and a folder prefix labeled by subfolder', async () => {
    const png = (n: number) => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(`image ${n}`)]);
    await putObject(s3, BUCKET, 'sets/img/a.png', png(1));
    await putObject(s3, BUCKET, 'shared/b.png', png(2));
    await putObject(s3, BUCKET, 'sets/pets.jsonl', `{"id": "a", "uri": "img/a.png", "label": "cat"}\n{"id": "b", "uri": "s3://${BUCKET}/shared/b.png", "label": 1}\n{"id": "c", "uri": "img/gone.png"}\n`);
    const manifest = await listShards({ kind: 'manifest', path: `s3://${BUCKET}/sets/pets.jsonl`, shardSize: 1000 });
    assert.deepEqual(manifest.map((s) => s.id), ['pets/000000']);
    const entries = await samplesOf(manifest[0]);
    assert.deepEqual(entries.map((s) => [s.id, s.label, s.image?.equals(png(s.id === 'pets/a' ? 1 : 2))]), [
      ['pets/a', 'cat', true],
      ['pets/b', '1', true],
      ['pets/c', undefined, undefined],
    ]);

    for (const [key, n] of [['train/0/x.png', 3], ['train/1/y.png', 4], ['train/1/z.png', 5]] as const) await putObject(s3, BUCKET, `folders/${key}`, png(n));
    const spec = { kind: 'folder' as const, path: `s3://${BUCKET}/folders/train`, shardSize: 2 };
    const folder = await listShards(spec);
    assert.deepEqual(folder.map((s) => s.id), ['train/000000', 'train/000001']);
    assert.deepEqual((await Promise.all(folder.map(samplesOf))).flat().map((s) => [s.id, s.label, s.image?.length]), [
      ['train/0/x', '0', 15],
      ['train/1/y', '1', 15],
      ['train/1/z', '1', 15],
    ]);
    await putObject(s3, BUCKET, 'folders/train/1/z.png', png(6)); // replaced in place: same key, same size
    const relisted = await listShards(spec);
    assert.equal(relisted[0].version, folder[0].version);
    assert.notEqual(relisted[1].version, folder[1].version, 'the replaced object changes its shard\'s version');
  });

  it('fails a shard that is missing or not a tar with its URI and byte offset', async () => {
    await putObject(s3, BUCKET, 'bad/junk.tar', Buffer.alloc(2048, 7));
    await putObject(s3, BUCKET, 'bad/gone.tar', readFileSync((await fashionShards(1))[0]));
    const [gone, junk] = await listShards({ kind: 'webdataset', shards: `s3://${BUCKET}/bad/` });
    await assert.rejects(samplesOf(junk), new RegExp(`shard s3://${BUCKET}/bad/junk\\.tar: corrupt: header checksum mismatch at byte offset 0`));
    await deleteObject(s3, BUCKET, 'bad/gone.tar');
    await assert.rejects(samplesOf(gone), new RegExp(`shard s3://${BUCKET}/bad/gone\\.tar: unreadable \\(object storage s3://${BUCKET}/bad/gone\\.tar: no such object.*at byte offset 0`));
    await assert.rejects(listShards({ kind: 'webdataset', shards: `s3://${BUCKET}/bad/gone.tar` }), new RegExp(`no such shard: s3://${BUCKET}/bad/gone\\.tar`));
  });

  it('fails the run\'s first step, not retryably, when the pool\'s bucket does not exist, naming the URI and the store\'s words', async () => {
    const config = parseRunConfig({ ...(await demoEmbedConfig(join(dir, 'check'), await fashionShards(1))), pool: { sources: [{ kind: 'webdataset', shards: 's3://septflow-no-such-bucket/pool/*.tar' }] } });
    // A bucket the worker is given, which the store does not have.
    const restore = setEnv({ SEPT_READ_BUCKETS: 's3://septflow-no-such-bucket' });
    try {
      await assert.rejects(checkRunInputs(config), (err: Error) => {
        assert.equal(err.name, 'ConfigError');
        assert.match(err.message, /pool\.sources\[0\]: object storage s3:\/\/septflow-no-such-bucket\/pool\/: listing refused \(NoSuchBucket: /);
        return true;
      });
    } finally {
      restore();
    }
  });

  it('fails the run\'s first step, naming the settings, when the store refuses the credentials or the endpoint\'s host does not resolve; a closed endpoint is retried', async () => {
    const config = parseRunConfig({ ...(await demoEmbedConfig(join(dir, 'check'), await fashionShards(1))), pool: { sources: [{ kind: 'webdataset', shards: `s3://${BUCKET}/pool/*.tar` }] } });
    const firstStep = async (settings: Record<string, string>) => {
      const restore = setEnv(settings);
      try {
        return await checkRunInputs(config);
      } finally {
        restore();
      }
    };
    const refusedAsConfig = (words: RegExp) => (err: Error) => {
      assert.equal(err.name, 'ConfigError');
      assert.match(err.message, words);
      return true;
    };
    const refusing = await startS3Server({ refuseCredentials: true, logFile: join(dir, 'moto-refusing.log') });
    try {
      await assert.rejects(
        firstStep({ AWS_ENDPOINT_URL: refusing.endpoint }),
        refusedAsConfig(/pool\.sources\[0\]: object storage s3:\/\/septflow-pool\/pool\/: listing refused \(InvalidAccessKeyId: .*\); check the bucket, the credentials and AWS_ENDPOINT_URL/),
      );
    } finally {
      await refusing.stop();
    }
    await assert.rejects(
      firstStep({ AWS_ENDPOINT_URL: 'http://septflow-no-such-host.invalid:9000' }),
      refusedAsConfig(/pool\.sources\[0\]: object storage s3:\/\/septflow-pool\/pool\/: listing failed, the endpoint's host does not resolve \(ENOTFOUND: .*\); check AWS_ENDPOINT_URL/),
    );
    // Nothing listening may be a store restarting: the step's attempts retry it, and its words say what to check.
    await assert.rejects(firstStep({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' }), (err: ObjectStoreError) => {
      assert.ok(err instanceof ObjectStoreError && err.retryable, String(err));
      assert.match(err.message, /s3:\/\/septflow-pool\/pool\/ unreachable: listing failed \(ECONNREFUSED: .*\); retryable, check AWS_ENDPOINT_URL if it lasts/);
      return true;
    });
  });
});
