import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
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
      out.push({ id: s.id, label: s.label, image: s.image?.equals(pools.png) ?? s.problem?.detail, members: Object.keys(s.sample.files).sort(), json });
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

  /** Each sample of a source as [id, what the reader made of it]. */
  async function outcomes(source: Parameters<typeof listAllShards>[0][number]) {
    const out = [];
    for (const shard of await listAllShards([source])) {
      for await (const s of sourceSamples(shard)) out.push([s.id, s.image ? 'image' : `${s.problem.reason}: ${s.problem.detail}`]);
    }
    return out;
  }

  it('keeps the first of a tar\'s samples under one id, on every read, and quarantines the later ones', async () => {
    const other = Buffer.concat([pools.png, Buffer.from('other')]);
    await writeShard(join(dir, 'dup-tar', 'pool-0.tar'), [
      { key: 'a', files: { png: pools.png } },
      { key: 'b', files: { png: pools.png } },
      { key: 'a', files: { png: other, cls: Buffer.from('7') } },
      { key: 'c', files: { png: pools.png } },
      { key: 'a', files: { json: Buffer.from('{}') } },
    ]);
    const expected = [
      ['dup/a', 'image'],
      ['dup/b', 'image'],
      ['dup/a', 'duplicate-id: sample 3 (a.png, a.cls) has the id of sample 1 (a.png), an earlier sample of shard dup/pool-0, which is kept'],
      ['dup/c', 'image'],
      ['dup/a', 'duplicate-id: sample 5 (a.json) has the id of sample 1 (a.png), an earlier sample of shard dup/pool-0, which is kept'],
    ];
    const source = { kind: 'webdataset', name: 'dup', shards: join(dir, 'dup-tar') } as const;
    assert.deepEqual(await outcomes(source), expected);
    assert.deepEqual(await outcomes(source), expected);
  });

  it('keeps a folder\'s first image of an id in path order (a.jpg before a.png), which shares its shard with the others, whatever the shard size', async () => {
    const root = join(dir, 'dup-folder');
    mkdirSync(root);
    for (const name of ['a.jpg', 'a.png', 'a.webp', 'b.png', 'c.png']) writeFileSync(join(root, name), pools.png);
    for (const shardSize of [1, 2, 3]) {
      const shards = await listAllShards([{ kind: 'folder', name: 'f', path: root, shardSize }]);
      assert.deepEqual(shards[0].span, ['', 'a.webp'], `shard size ${shardSize}: a.jpg, a.png and a.webp in the first shard`);
      assert.deepEqual(await outcomes({ kind: 'folder', name: 'f', path: root, shardSize }), [
        ['f/a', 'image'],
        ['f/a', `duplicate-id: ${join(root, 'a.png')} has the id of ${join(root, 'a.jpg')}, an earlier sample of shard f/000000, which is kept`],
        ['f/a', `duplicate-id: ${join(root, 'a.webp')} has the id of ${join(root, 'a.jpg')}, an earlier sample of shard f/000000, which is kept`],
        ['f/b', 'image'],
        ['f/c', 'image'],
      ]);
    }
  });

  it('quarantines a tar sample whose json member is no JSON object, and reads on', async () => {
    const json = (text: string) => ({ png: pools.png, json: Buffer.from(text) });
    await writeShard(join(dir, 'bad-json', 'pool-0.tar'), [
      { key: 'torn', files: json('{"label": 3') },
      { key: 'array', files: json('[3]') },
      { key: 'null', files: json('null') },
      { key: 'good', files: json('{"label": 3}') },
    ]);
    const read = await outcomes({ kind: 'webdataset', name: 'j', shards: join(dir, 'bad-json') });
    assert.deepEqual(read.slice(1), [
      ['j/array', 'malformed-json: json member array.json holds an array, not an object'],
      ['j/null', 'malformed-json: json member null.json holds null, not an object'],
      ['j/good', 'image'],
    ]);
    assert.match(String(read[0][1]), /^malformed-json: json member torn\.json is not JSON \(.+\)$/);
  });
});
