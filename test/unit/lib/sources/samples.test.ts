import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { listAllShards } from '../../../../lib/sources/list-shards';
import { sourceSamples } from '../../../../lib/sources/samples';
import { writeShard } from '../../../../lib/webdataset';
import { writeTestPools, type TestPools } from '../../../support/pools';
import { tempDir } from '../../../support/tmp';

/** What the reader says of each sample: id, label, image or why none, members with the json's content. */
async function read(pools: TestPools, kind: 'webdataset' | 'folder' | 'manifest') {
  const out = [];
  for (const shard of await listAllShards([pools[kind]])) {
    for await (const s of sourceSamples(shard)) {
      const json = s.sample.files.json && JSON.parse(s.sample.files.json.toString('utf8'));
      out.push({ id: s.id, label: s.label, image: s.image?.equals(pools.png) ?? s.missing, members: Object.keys(s.sample.files).sort(), json });
    }
  }
  return out;
}

describe('reading samples of every source kind', () => {
  const dir = tempDir();
  let pools: TestPools;
  before(async () => {
    pools = await writeTestPools(dir);
  });

  const cases = {
    webdataset: [
      { id: 'tars/s0', label: '0', image: true, members: ['json', 'png'], json: { label: 0 } },
      { id: 'tars/s1', label: '1', image: true, members: ['json', 'png'], json: { label: 1 } },
      { id: 'tars/s2', label: '1', image: true, members: ['json', 'png'], json: { label: 1 } },
      { id: 'tars/s3', label: undefined, image: true, members: ['json', 'png'], json: {} },
      { id: 'tars/s4', label: '2', image: 'no image member (has json)', members: ['json'], json: { label: 2 } },
    ],
    // A folder's class is its subfolder; its json says so as WebDataset shards would.
    folder: [
      { id: 'photos/cat/a', label: 'cat', image: true, members: ['json', 'png'], json: { id: 'photos/cat/a', label: 'cat' } },
      { id: 'photos/cat/b', label: 'cat', image: true, members: ['json', 'png'], json: { id: 'photos/cat/b', label: 'cat' } },
      { id: 'photos/d', label: undefined, image: true, members: ['json', 'png'], json: { id: 'photos/d' } },
      { id: 'photos/dog/c', label: 'dog', image: true, members: ['json', 'png'], json: { id: 'photos/dog/c', label: 'dog' } },
    ],
    // Integer class labels stay numbers in the json, as the trainer reads them.
    manifest: [
      { id: 'pool/a', label: '1', image: true, members: ['json', 'png'], json: { id: 'pool/a', label: 1 } },
      { id: 'pool/b', label: 'x', image: true, members: ['json', 'png'], json: { id: 'pool/b', label: 'x' } },
      { id: 'pool/c', label: undefined, image: true, members: ['json', 'png'], json: { id: 'pool/c' } },
      { id: 'pool/d', label: '1', image: 'cannot read gone.png: ENOENT', members: ['json'], json: { id: 'pool/d', label: 1 } },
    ],
  };
  for (const [kind, expected] of Object.entries(cases) as [keyof typeof cases, unknown[]][]) {
    it(`reads a ${kind} source: ids, labels, images and members`, async () => {
      assert.deepEqual(await read(pools, kind), expected);
    });
  }

  it('takes a tar sample\'s label from its .cls member (text, trimmed) before its json', async () => {
    const text = (s: string) => Buffer.from(s);
    await writeShard(join(dir, 'cls', 'pool-0.tar'), [
      { key: 'a', files: { png: pools.png, cls: text('3\n') } },
      { key: 'b', files: { png: pools.png, cls: text('sandal'), json: text('{"label":7}') } },
      { key: 'c', files: { png: pools.png, cls: text('') } },
    ]);
    const labels = [];
    for (const shard of await listAllShards([{ kind: 'webdataset', name: 'cls', shards: join(dir, 'cls') }])) {
      for await (const s of sourceSamples(shard)) labels.push([s.id, s.label]);
    }
    assert.deepEqual(labels, [['cls/a', '3'], ['cls/b', 'sandal'], ['cls/c', '']]);
  });
});
