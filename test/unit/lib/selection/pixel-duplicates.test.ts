import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { demoShards } from '../../../../lib/demo/materialize';
import { pixelDuplicates } from '../../../../lib/selection/pixel-duplicates';
import { listShards } from '../../../../lib/sources/list-shards';
import { readShard } from '../../../../lib/webdataset/reader';
import { ShardWriter } from '../../../../lib/webdataset/writer';
import { tempDir } from '../../../support/tmp';

describe('the leakage guard’s pixel check', () => {
  it('confirms copies and re-encodes at 0.99, a 2x upscale only at 0.95, and never a distinct digit', async () => {
    const testShard = (await demoShards('mnist', 'test'))[0];
    const samples = [];
    for await (const s of readShard(testShard)) if (samples.push(s) === 3) break;
    const [a, b, c] = samples;
    const png = a.files.png!;
    // A pool shard holding: the exact bytes of test image a; a JPEG of it; it resized to 42x42 and
    // to 56x56; test image c (another digit) under another key.
    const poolPath = join(tempDir(), 'shard-000000.tar');
    const writer = await ShardWriter.create(poolPath);
    await writer.write({ key: 'copy', files: { png } });
    await writer.write({ key: 'jpeg', files: { jpg: await sharp(png).jpeg({ quality: 90 }).toBuffer() } });
    await writer.write({ key: 'resized', files: { png: await sharp(png).resize(42, 42).png().toBuffer() } });
    await writer.write({ key: 'upscaled', files: { png: await sharp(png).resize(56, 56).png().toBuffer() } });
    await writer.write({ key: 'other', files: { png: c.files.png! } });
    await writer.close();

    const test = await listShards({ kind: 'demo', dataset: 'mnist', split: 'test' });
    const pool = await listShards({ kind: 'webdataset', name: 'pool', shards: poolPath });
    const idOf = (key: string) => `mnist/${key}`;
    const pairs = ['copy', 'jpeg', 'resized', 'upscaled', 'other'].map((k) => ({ testId: idOf(a.key), poolId: `pool/${k}` }));
    pairs.push({ testId: idOf(b.key), poolId: 'pool/other' });
    const shards = { test: test.slice(0, 1), pool };
    assert.deepEqual([...(await pixelDuplicates(pairs, shards, 0.99))].sort(), ['pool/copy', 'pool/jpeg', 'pool/resized']);
    assert.deepEqual([...(await pixelDuplicates(pairs, shards, 0.95))].sort(), ['pool/copy', 'pool/jpeg', 'pool/resized', 'pool/upscaled']);
  });
});
