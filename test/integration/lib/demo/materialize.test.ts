import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEMO_DATASETS } from '../../../../lib/config/sources';
import sharp from 'sharp';
import { demoImage, IMAGE_SIDE, loadDemoClass } from '../../../../lib/demo/datasets';
import { demoPlantedCopies, demoShards, ensureDemoDataset, plantedCopiesIn } from '../../../../lib/demo/materialize';
import { readShard } from '../../../../lib/webdataset';
import { tempDir } from '../../../support/tmp';

/** Pearson correlation of two images' pixels. */
function pixelCorrelation(a: Uint8Array, b: Uint8Array): number {
  const mean = (x: Uint8Array) => x.reduce((s, v) => s + v, 0) / x.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const MIN_CORRELATION = { jpeg: 0.95, resize: 0.75, crop: 0.7 } as const;

const EXPECTED = { mnist: 10_000, 'fashion-mnist': 70_000 } as const;

/** Ids, labels and a digest of every shard's bytes, read back from the materialized shards. */
async function readBack(dataset: (typeof DEMO_DATASETS)[number]) {
  const ids: string[] = [];
  const labels = new Map<number, number>();
  const digest = createHash('sha256');
  for (const shard of await demoShards(dataset, 'all')) {
    digest.update(readFileSync(shard));
    for await (const sample of readShard(shard)) {
      const meta = JSON.parse(sample.files.json.toString()) as { id: string; label: number; split: string };
      assert.ok(sample.files.png.subarray(1, 4).toString() === 'PNG', `${meta.id} is a PNG`);
      ids.push(meta.id);
      labels.set(meta.label, (labels.get(meta.label) ?? 0) + 1);
    }
  }
  return { ids, labels, digest: digest.digest('hex') };
}

describe('demo datasets', () => {
  for (const dataset of DEMO_DATASETS) {
    it(`materializes ${dataset}: ${EXPECTED[dataset]} samples, 10 labels, stable ids and bytes`, async () => {
      const first = await readBack(dataset);
      assert.equal(first.ids.length, EXPECTED[dataset]);
      assert.equal(new Set(first.ids).size, first.ids.length, 'ids are unique');
      assert.deepEqual([...first.labels.keys()].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const index = await ensureDemoDataset(dataset);
      assert.equal(index.splits.train.samples + index.splits.test.samples, EXPECTED[dataset]);

      // A second materialization from scratch, elsewhere, gives the same ids and the same bytes.
      const previous = process.env.SEPT_DATA_DIR;
      process.env.SEPT_DATA_DIR = tempDir();
      try {
        const second = await readBack(dataset);
        assert.deepEqual(second.ids, first.ids);
        assert.equal(second.digest, first.digest);
      } finally {
        if (previous === undefined) delete process.env.SEPT_DATA_DIR;
        else process.env.SEPT_DATA_DIR = previous;
      }
    });
  }

  it('splits every class 6:1 into disjoint train and test sets', async () => {
    const index = await ensureDemoDataset('fashion-mnist');
    assert.deepEqual(index.splits.train.perLabel, Array(10).fill(6000));
    assert.deepEqual(index.splits.test.perLabel, Array(10).fill(1000));
  });

  it('plants known near-duplicates of train images in the copies split: listed, decodable, and close to their originals', async () => {
    const index = await ensureDemoDataset('fashion-mnist');
    const known = await demoPlantedCopies('fashion-mnist');
    // One train image in 50 copied (120 per class), one in 250 twice (24 per class).
    assert.equal(known.length, 1440);
    assert.equal(index.splits.copies.samples, known.length);
    assert.deepEqual(index.splits.copies.perLabel, Array(10).fill(144));
    const byId = new Map(known.map((k) => [k.copy, k]));
    const classes = new Map<number, ReturnType<typeof loadDemoClass>>();
    let seen = 0;
    for (const shard of await demoShards('fashion-mnist', 'copies')) {
      for await (const sample of readShard(shard)) {
        const meta = JSON.parse(sample.files.json.toString()) as { id: string; label: number; copy_of: string; split: string };
        const copy = byId.get(meta.id);
        assert.ok(copy, `${meta.id} is listed`);
        assert.equal(meta.copy_of, copy.original);
        assert.equal(meta.split, 'copies');
        const originalIndex = Number(copy.original.split('-').at(-1));
        assert.notEqual(originalIndex % 7, 6, `${copy.copy} copies a train image`);
        // The transform undone as far as it can be: the copy at the original's size, or a cropped copy against the original's same crop.
        const image = sharp(sample.files.jpg ?? sample.files.png).toColourspace('b-w');
        const cls = classes.get(meta.label) ?? loadDemoClass('fashion-mnist', meta.label);
        classes.set(meta.label, cls);
        const original = sharp(Buffer.from(demoImage(cls, originalIndex)), { raw: { width: IMAGE_SIDE, height: IMAGE_SIDE, channels: 1 } }).toColourspace('b-w');
        const inner = IMAGE_SIDE - 2;
        const [a, b] =
          copy.transform === 'crop'
            ? await Promise.all([image.resize(inner, inner).raw().toBuffer(), original.extract({ left: 1, top: 1, width: inner, height: inner }).raw().toBuffer()])
            : await Promise.all([image.resize(IMAGE_SIDE, IMAGE_SIDE).raw().toBuffer(), original.raw().toBuffer()]);
        const r = pixelCorrelation(a, b);
        // Measured over all 1,440: at least 0.973 (jpeg), 0.807 (resize), 0.748 (crop).
        assert.ok(r >= MIN_CORRELATION[copy.transform], `${copy.copy} (${copy.transform}) correlates ${r.toFixed(3)} with its original`);
        seen++;
      }
    }
    assert.equal(seen, known.length);
    // A pool holds them with their originals only where it names both.
    const copies = { kind: 'demo', dataset: 'fashion-mnist', split: 'copies' } as const;
    assert.equal((await plantedCopiesIn([{ kind: 'demo', dataset: 'fashion-mnist', split: 'all' }, copies])).length, known.length);
    assert.equal((await plantedCopiesIn([{ kind: 'demo', dataset: 'fashion-mnist', split: 'test' }, copies])).length, 0);
    assert.equal((await plantedCopiesIn([{ kind: 'demo', dataset: 'mnist', split: 'train' }, { ...copies, dataset: 'mnist' }])).length, (await demoPlantedCopies('mnist')).length);
    // 'all' is train and test only: the copies are in a pool only where it names them.
    assert.equal((await demoShards('fashion-mnist', 'all')).some((s) => s.includes('/copies/')), false);
  });
});
