import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEMO_DATASETS } from '../../../../lib/config/sources';
import { demoShards, ensureDemoDataset } from '../../../../lib/demo/materialize';
import { readShard } from '../../../../lib/webdataset';
import { tempDir } from '../../../support/tmp';

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
});
