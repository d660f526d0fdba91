import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ObjectBody, ObjectStore, ObjectStoreError, resumingRead } from '../../../lib/object-store';

const OBJECT = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

/** A fake store's GETs: each answer serves [from, end) in 100-byte chunks, and the plan says where it breaks. */
function fakeGets(plan: ({ breakAt?: number; endsAt?: number } | Error)[]) {
  const requests: { from: number; etag: string | undefined }[] = [];
  const open = async (from: number, etag: string | undefined): Promise<ObjectBody> => {
    const step = plan[requests.length] ?? {};
    requests.push({ from, etag });
    if (step instanceof Error) throw step;
    const { breakAt, endsAt = OBJECT.length } = step;
    async function* body() {
      for (let at = from; at < endsAt; at += 100) {
        if (breakAt !== undefined && at >= breakAt) throw new Error('socket hang up');
        yield OBJECT.subarray(at, Math.min(at + 100, endsAt));
      }
    }
    return { body: body(), length: OBJECT.length - from, etag: '"v1"' };
  };
  return { open, requests };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(c);
  return Buffer.concat(out);
}

describe('resumingRead', () => {
  it('resumes a broken stream from the byte reached, at the version the first answer had', async () => {
    const gets = fakeGets([{ breakAt: 300 }, { breakAt: 700 }, {}]);
    const bytes = await collect(resumingRead('s3://b/k.tar', gets.open, { start: 0, attempts: 2, delayMs: () => 0 }));
    assert.deepEqual(bytes, OBJECT);
    assert.deepEqual(gets.requests, [
      { from: 0, etag: undefined },
      { from: 300, etag: '"v1"' },
      { from: 700, etag: '"v1"' },
    ]);
  });

  it('asks again for what a body that ended short left out', async () => {
    const gets = fakeGets([{ endsAt: 500 }, {}]);
    assert.deepEqual(await collect(resumingRead('s3://b/k.tar', gets.open, { start: 200, etag: '"v0"', attempts: 1, delayMs: () => 0 })), OBJECT.subarray(200));
    assert.deepEqual(gets.requests, [
      { from: 200, etag: '"v0"' },
      { from: 500, etag: '"v0"' },
    ]);
  });

  it('gives up, retryably, after as many breaks in a row without progress as it may attempt, naming the URI and offset', async () => {
    const gets = fakeGets([{ breakAt: 400 }, { breakAt: 400 }, { breakAt: 400 }, { breakAt: 400 }]);
    await assert.rejects(collect(resumingRead('s3://b/k.tar', gets.open, { start: 0, attempts: 2, delayMs: () => 0 })), (err: ObjectStoreError) => {
      assert.ok(err instanceof ObjectStoreError);
      assert.equal(err.retryable, true);
      assert.match(err.message, /s3:\/\/b\/k\.tar: reading broke at byte offset 400 \(socket hang up\) 3 times in a row/);
      return true;
    });
    assert.equal(gets.requests.length, 3);
  });

  it('fails with the store\'s answer when the object changed under it, having yielded only the old version\'s bytes', async () => {
    const changed = new ObjectStoreError('object storage s3://b/k.tar: the object changed while it was read', 's3://b/k.tar', false, 'changed');
    const gets = fakeGets([{ breakAt: 300 }, changed]);
    const seen: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of resumingRead('s3://b/k.tar', gets.open, { start: 0, attempts: 3, delayMs: () => 0 })) seen.push(c);
      })(),
      (err) => err === changed,
    );
    assert.deepEqual(Buffer.concat(seen), OBJECT.subarray(0, 300));
  });
});

describe('s3 URIs', () => {
  it('splits an object URI into its bucket and key', () => {
    const { store, key } = ObjectStore.at('s3://pool-bucket/laion/pool-00001.tar', {});
    assert.equal(store.bucket, 'pool-bucket');
    assert.equal(key, 'laion/pool-00001.tar');
    assert.equal(store.uriOf(key), 's3://pool-bucket/laion/pool-00001.tar');
    assert.equal(ObjectStore.at('s3://pool-bucket', {}).key, '');
    assert.equal(ObjectStore.at('s3://pool-bucket/my photos/cat 1.jpg', {}).key, 'my photos/cat 1.jpg');
    assert.throws(() => ObjectStore.at('/data/pool.tar', {}), /not an s3:\/\/bucket\/key URI/);
  });
});
