// A shard with bad samples next to good ones: the bad go to quarantine with distinct reasons, the
// shard succeeds. Demo CNN test encoder (RANDOM weights).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encode as encodePng } from 'fast-png';
import sharp from 'sharp';
import { Embedder } from '../../../lib/embed/embedder';
import { prepareVectorDestination } from '../../../lib/embed/prepare';
import { stageShard } from '../../../lib/embed/stage-shard';
import { listShards } from '../../../lib/sources/list-shards';
import { commitStagedShards } from '../../../lib/vectors/commit';
import { openStore } from '../../../lib/vectors/connect';
import { writeShard } from '../../../lib/webdataset/writer';
import { tempDir } from '../../support/tmp';
import { demoEmbedConfig, quarantineRows, storedVectors } from '../../support/embedding';

const GOOD = 20;

async function badSamplesShard(path: string): Promise<void> {
  const gray = (seed: number) => Buffer.from(encodePng({ width: 28, height: 28, data: new Uint8Array(784).map((_, i) => (i * seed) % 256), channels: 1, depth: 8 }));
  const jpeg = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  // 1100x1000 = 1.1 megapixels, over the 1,000,000 pixel limit set below; compresses to a few kB.
  const huge = await sharp({ create: { width: 1100, height: 1000, channels: 3, background: '#000' } }).png().toBuffer();
  const good = Array.from({ length: GOOD }, (_, i) => ({ key: `good-${String(i).padStart(3, '0')}`, files: { png: gray(i + 3) } }));
  await writeShard(path, [
    ...good.slice(0, 10),
    { key: 'zero-bytes', files: { png: Buffer.alloc(0) } },
    { key: 'text-named-png', files: { png: Buffer.from('this is a text file, not a PNG\n') } },
    { key: 'truncated-jpeg', files: { jpg: jpeg.subarray(0, Math.floor(jpeg.length / 2)) } },
    { key: 'oversized', files: { png: huge } },
    ...good.slice(10),
  ]);
}

describe('bad samples', () => {
  after(() => Embedder.closeAll());

  it('quarantines a zero-byte file, a text file named .png, a truncated JPEG and an oversized image, and embeds every good image', async () => {
    const dir = tempDir();
    await badSamplesShard(join(dir, 'shards', 'bad-000.tar'));
    const config = await demoEmbedConfig(dir, [join(dir, 'shards')], { encoder: { maxPixels: 1_000_000 } });
    const destination = await prepareVectorDestination(config.encoder, config.store.uri);
    const [shard] = await listShards(config.pool.sources[0]);

    const staged = await stageShard(shard, destination);
    assert.deepEqual(staged, { shardId: shard.id, samples: GOOD + 4, embedded: GOOD, quarantined: 4, status: 'staged' });
    await commitStagedShards(await openStore(destination.store), destination.encoderId, destination.dims, [shard]);

    const reasons = Object.fromEntries((await quarantineRows(destination.store, destination.encoderId)).map((q) => [q.id, q.reason]));
    assert.deepEqual(reasons, {
      [`${shard.source}/zero-bytes`]: 'empty',
      [`${shard.source}/text-named-png`]: 'not-an-image',
      [`${shard.source}/truncated-jpeg`]: 'truncated',
      [`${shard.source}/oversized`]: 'too-many-pixels',
    });
    const stored = await storedVectors(destination.store, destination.encoderId, destination.dims);
    assert.deepEqual(stored.ids.sort(), Array.from({ length: GOOD }, (_, i) => `${shard.source}/good-${String(i).padStart(3, '0')}`));
  });
});
