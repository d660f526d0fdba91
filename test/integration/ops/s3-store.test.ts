// LanceDB tables on S3-compatible object storage (moto's server), configured by the standard AWS
// variables only: the real embed path (test encoder, real shard) stages, commits and reads there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startS3Server, type S3Server } from '../../../infra/s3-server';
import { parseRunConfig } from '../../../lib/config/validate';
import { demoShards } from '../../../lib/demo/materialize';
import { Embedder } from '../../../lib/embed/embedder';
import { prepareVectorDestination } from '../../../lib/embed/prepare';
import { stageShard } from '../../../lib/embed/stage-shard';
import { DEMO_CNN, ensureTestEncoder } from '../../../lib/encoder/test-encoders';
import { listShards } from '../../../lib/sources/list-shards';
import { stringColumn } from '../../../lib/vectors/arrow';
import { commitStagedShards, compactEncoderTables } from '../../../lib/vectors/commit';
import { openStore, storageOptionsFromEnv } from '../../../lib/vectors/connect';
import { dropAllStaging } from '../../../lib/vectors/staging';
import { tableNames } from '../../../lib/vectors/tables';
import { listKeys as listBucketKeys } from '../../support/s3';
import { tempDir } from '../../support/tmp';

const BUCKET = 'septflow-test';
const STORE = `s3://${BUCKET}/lancedb`;
const listKeys = (s3: S3Server, prefix: string) => listBucketKeys(s3, BUCKET, prefix);

describe('LanceDB store on S3-compatible object storage', () => {
  const dir = tempDir('septflow-s3-');
  let s3: S3Server;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    const started = Date.now();
    s3 = await startS3Server({ logFile: join(dir, 'moto.log') });
    console.log(`moto server up in ${Date.now() - started} ms (venv included on a first run)`);
    await s3.createBucket(BUCKET);
    // The store is configured the way a worker is: the standard AWS variables, nothing else.
    for (const [k, v] of Object.entries(s3.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  after(async () => {
    await Embedder.closeAll();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await s3?.stop();
  });

  it('adds only what LanceDB does not read from the environment itself', () => {
    assert.deepEqual(storageOptionsFromEnv('/data/lancedb', { AWS_ENDPOINT_URL: 'http://minio:9000' }), {});
    assert.deepEqual(storageOptionsFromEnv('s3://b/db', {}), {});
    assert.deepEqual(storageOptionsFromEnv('s3://b/db', { AWS_ENDPOINT_URL: 'https://s3.example.com' }), {});
    assert.deepEqual(storageOptionsFromEnv('s3://b/db', { AWS_ENDPOINT: 'http://minio:9000' }), { allow_http: 'true' });
    assert.deepEqual(storageOptionsFromEnv('s3://b/db', { AWS_ENDPOINT_URL: 'http://minio:9000', AWS_ALLOW_HTTP: 'false' }), {});
    assert.deepEqual(storageOptionsFromEnv('s3://b/db', { AWS_ENDPOINT_URL_S3: 'http://minio:9000' }), { aws_endpoint: 'http://minio:9000', allow_http: 'true' });
  });

  it('embeds a shard twice at once and twice in a row, leaving exactly one row per sample on S3', async () => {
    const model = await ensureTestEncoder(DEMO_CNN, join(dir, 'encoders'));
    const shards = (await demoShards('mnist', 'train')).slice(0, 1);
    const config = parseRunConfig({
      name: 's3-store',
      pool: { sources: [{ kind: 'webdataset', name: 'mnist-part', shards }] },
      target: { preset: 'mnist' },
      encoder: { model, batchSize: 128 },
      store: { uri: STORE },
      outputDir: join(dir, 'runs'),
    });
    const started = Date.now();
    const destination = await prepareVectorDestination(config.encoder, config.store.uri);
    const [shard] = await listShards(config.pool.sources[0]);
    const db = await openStore(destination.store);

    // A zombie attempt and its retry stage the same shard concurrently (two writers of one table on S3).
    const [a, b] = await Promise.all([stageShard(shard, destination), stageShard(shard, destination)]);
    assert.equal(a.samples, 1000);
    assert.equal(b.samples, 1000);
    assert.ok((await listKeys(s3, 'lancedb/staging_')).length > 0, 'the shard is staged in the bucket');
    const first = await commitStagedShards(db, destination.encoderId, destination.dims, [shard]);
    const second = await commitStagedShards(db, destination.encoderId, destination.dims, [shard]);
    assert.equal(first.committed.length, 1);
    assert.equal(second.alreadyCommitted.length, 1);
    const late = await stageShard(shard, destination);
    assert.equal(late.status, 'already-committed');
    await dropAllStaging(db, destination.encoderId);
    await compactEncoderTables(db, destination.encoderId);
    console.log(`embedded and committed 1,000 samples on S3 in ${Date.now() - started} ms`);

    const vectors = await (await db.openTable(tableNames(destination.encoderId).vectors)).query().toArrow();
    const ids = stringColumn(vectors, 'id');
    assert.equal(ids.length, 1000);
    assert.equal(new Set(ids).size, 1000);
    assert.ok(ids.every((id) => id.startsWith('mnist-part/')), ids[0]);

    // The rows are objects in the bucket, not files on this machine.
    const keys = await listKeys(s3, 'lancedb/');
    const table = `lancedb/${tableNames(destination.encoderId).vectors}.lance/`;
    assert.ok(keys.some((k) => k.startsWith(`${table}data/`) && k.endsWith('.lance')), `data files under ${table}`);
    assert.ok(keys.some((k) => k.startsWith(`${table}_versions/`)), `manifests under ${table}`);
    assert.deepEqual((await db.tableNames()).filter((n) => n.startsWith('staging_')), [], 'staging tables dropped');
    assert.deepEqual(keys.filter((k) => k.startsWith('lancedb/staging_')), [], 'and their objects deleted');
  });

  it('keeps every row when several processes append to one table at once (conditional put on S3)', async () => {
    const { connect } = await import('@lancedb/lancedb');
    const uri = `s3://${BUCKET}/concurrency`;
    const seed = await openStore(uri);
    await seed.createTable('appends', [{ id: 'seed', writer: -1 }]);
    const writers = 4;
    const rounds = 5;
    // Separate connections, as separate worker processes would hold.
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const db = await connect(uri, { storageOptions: storageOptionsFromEnv(uri) });
        for (let r = 0; r < rounds; r++) await (await db.openTable('appends')).add([{ id: `w${w}-r${r}`, writer: w }]);
      }),
    );
    const table = await seed.openTable('appends');
    assert.equal(await table.countRows(), 1 + writers * rounds);
    assert.equal(await table.version(), 1 + writers * rounds, 'one version per append: none overwrote another');
    const refused = readFileSync(join(dir, 'moto.log'), 'utf8').split('\n').filter((l) => /concurrency\/appends\.lance\/_versions\/.* 412 /.test(l));
    console.log(`manifest writes refused by If-None-Match and retried by LanceDB: ${refused.length}`);
  });
});
