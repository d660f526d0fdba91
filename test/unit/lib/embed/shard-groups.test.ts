import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { groupShards } from '../../../../lib/embed/shard-groups';
import type { ShardRef } from '../../../../lib/sources/shard-ref';
import { tempDir } from '../../../support/tmp';

/** Shard files of these sizes in bytes. */
function shards(...sizes: number[]): ShardRef[] {
  const dir = tempDir();
  return sizes.map((size, i) => {
    const path = join(dir, `shard-${i}.tar`);
    writeFileSync(path, Buffer.alloc(size));
    return { id: `s/${i}`, source: 's', path };
  });
}
const ids = (groups: ShardRef[][]) => groups.map((g) => g.map((s) => s.id.slice(2)).join(''));

describe('groupShards', () => {
  it('packs consecutive small shards up to the byte limit, in order', async () => {
    assert.deepEqual(ids(await groupShards(shards(10, 10, 10, 10, 10), { maxBytes: 25, window: 1 })), ['01', '23', '4']);
  });

  it('keeps at least `window` groups where there are that many shards', async () => {
    assert.deepEqual(ids(await groupShards(shards(1, 1, 1, 1, 1, 1, 1, 1), { maxBytes: 1000, window: 4 })), ['01', '23', '45', '67']);
    assert.deepEqual(ids(await groupShards(shards(1, 1, 1), { maxBytes: 1000, window: 16 })), ['0', '1', '2']);
  });

  it('sends a shard over the limit alone, and manifest shards (unknown size) alone', async () => {
    const refs = shards(5, 100, 5, 5);
    refs[3] = { ...refs[3], format: 'manifest', range: [0, 10] };
    assert.deepEqual(ids(await groupShards(refs, { maxBytes: 50, window: 1 })), ['0', '1', '2', '3']);
    assert.deepEqual(await groupShards([], { maxBytes: 50, window: 4 }), []);
  });
});
