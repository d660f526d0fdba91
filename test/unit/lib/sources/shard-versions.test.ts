// A shard's identity includes its content: what the versions of each source kind see change.
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listShards } from '../../../../lib/sources/list-shards';
import { readManifestShard } from '../../../../lib/sources/manifest';
import { contentFingerprint } from '../../../../lib/sources/shard-ref';
import { writeShard } from '../../../../lib/webdataset/writer';
import { tempDir } from '../../../support/tmp';

const versions = async (spec: Parameters<typeof listShards>[0]) => (await listShards(spec)).map((s) => s.version);

describe('shard content versions', () => {
  it('versions a local tar by size and modification time, which rewriting it under the same name changes', async () => {
    const dir = tempDir();
    const path = join(dir, 'pool-000.tar');
    await writeShard(path, [{ key: 'a', files: { png: Buffer.from('one') } }]);
    utimesSync(path, 1000, 1000);
    const spec = { kind: 'webdataset' as const, shards: path };
    const [before] = await listShards(spec);
    assert.equal(before.version, `${before.bytes}-1000000`);
    assert.deepEqual(await listShards(spec), [before], 'the same file lists the same version');
    await writeShard(path, [{ key: 'a', files: { png: Buffer.from('two') } }]);
    utimesSync(path, 2000, 2000);
    const [after] = await listShards(spec);
    assert.equal(after.id, before.id);
    assert.notEqual(after.version, before.version);
  });

  it('versions a demo shard by what it holds, not by when this machine materialized its copy', async () => {
    const spec = { kind: 'demo' as const, dataset: 'mnist' as const, split: 'test' as const };
    const [before] = await listShards(spec);
    // Another machine's copy is byte-identical but newer.
    utimesSync(before.path, new Date(), new Date());
    const [after] = await listShards(spec);
    assert.equal(after.version, before.version);
    assert.match(before.version ?? '', /^demo-\d+-\d+$/);
  });

  it('versions a folder shard by its listing, which carries each file\'s size and mtime: replacing one file changes only its shard', async () => {
    const root = join(tempDir(), 'pets');
    await mkdir(join(root, 'cat'), { recursive: true });
    for (const [i, name] of ['cat/a.png', 'cat/b.png', 'cat/c.png', 'cat/d.png'].entries()) {
      writeFileSync(join(root, name), `image ${i}`);
      utimesSync(join(root, name), 1000, 1000);
    }
    const spec = { kind: 'folder' as const, path: root, shardSize: 2 };
    const before = await versions(spec);
    assert.equal(new Set(before).size, 2);
    writeFileSync(join(root, 'cat/c.png'), 'image 9'); // same size, new content and mtime
    const after = await versions(spec);
    assert.equal(after[0], before[0]);
    assert.notEqual(after[1], before[1]);
  });

  it('versions a manifest shard by its lines, and refuses to read lines rewritten since they were listed', async () => {
    const dir = tempDir();
    const manifest = join(dir, 'pool.jsonl');
    writeFileSync(manifest, '{"id": "a", "uri": "a.png"}\n{"id": "b", "uri": "b.png"}\n{"id": "c", "uri": "c.png"}\n');
    const spec = { kind: 'manifest' as const, path: manifest, shardSize: 2 };
    const shards = await listShards(spec);
    writeFileSync(manifest, '{"id": "a", "uri": "a.png"}\n{"id": "b", "uri": "b.png"}\n{"id": "c", "uri": "C.png"}\n');
    const relisted = await listShards(spec);
    assert.equal(relisted[0].version, shards[0].version);
    assert.notEqual(relisted[1].version, shards[1].version);
    const ids = [];
    for await (const e of readManifestShard(shards[0])) ids.push(e.id);
    assert.deepEqual(ids, ['a', 'b'], 'an unchanged shard reads as listed');
    await assert.rejects(async () => {
      for await (const _ of readManifestShard(shards[1]));
    }, /manifest .*pool\.jsonl changed since shard pool\/000001 was listed/);
  });

  it("fingerprints a source's content by its shards' ids and versions, in order", () => {
    const shards = [
      { id: 'pool/000', version: 'a' },
      { id: 'pool/001', version: 'b' },
    ];
    const fingerprint = contentFingerprint(shards);
    assert.equal(contentFingerprint(structuredClone(shards)), fingerprint, 'the same listing, the same fingerprint');
    const others = [
      [shards[0], { id: 'pool/001', version: 'c' }],
      [shards[0], { id: 'pool/002', version: 'b' }],
      [shards[1], shards[0]],
      [shards[0]],
      [...shards, { id: 'pool/002', version: 'c' }],
      [{ id: 'pool/000a', version: '' }, shards[1]],
    ];
    for (const other of others) assert.notEqual(contentFingerprint(other), fingerprint, JSON.stringify(other));
  });
});
