import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeShardList } from '../../../../lib/embed/shard-plan';
import { selectionFiles } from '../../../../lib/run-layout';
import { partitionPoolShards, readPoolShards } from '../../../../lib/selection/plan';
import type { ShardRef } from '../../../../lib/sources/shard-ref';
import { writeLocation } from '../../../../lib/storage/location';
import { tempDir } from '../../../support/tmp';

const shards: ShardRef[] = Array.from({ length: 11 }, (_, i) => ({ id: `pool/shard-${String(i).padStart(3, '0')}`, source: 'pool', path: `/data/pool/shard-${i}.tar` }));

describe("a selection plan's pool partitions", () => {
  it('reads each partition from the shard plan by offset, as contiguous runs of the sorted list', async () => {
    const workDir = tempDir();
    const plan = { workDir, partitions: 4, poolShards: await writeShardList(shards, selectionFiles(workDir).poolShardPlan) };
    const parts = await Promise.all([0, 1, 2, 3].map((p) => partitionPoolShards(plan, p)));
    assert.deepEqual(parts.map((p) => p.length), [2, 3, 3, 3]);
    assert.deepEqual(parts.flat(), shards);
    assert.deepEqual(await readPoolShards(plan), shards);
  });

  it('reads the partitions of a plan of 0.4.0 (no shard plan) from its pool-shards.json, alike', async () => {
    const workDir = tempDir();
    await writeLocation(selectionFiles(workDir).poolShards, JSON.stringify(shards));
    const plan = { workDir, partitions: 4 };
    const parts = await Promise.all([0, 1, 2, 3].map((p) => partitionPoolShards(plan, p)));
    assert.deepEqual(parts.map((p) => p.length), [2, 3, 3, 3]);
    assert.deepEqual(parts.flat(), shards);
  });
});
