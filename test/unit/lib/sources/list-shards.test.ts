import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listShards } from '../../../../lib/sources/list-shards';
import { sourceSamples } from '../../../../lib/sources/samples';
import { tempDir } from '../../../support/tmp';

async function idsOf(shards: Awaited<ReturnType<typeof listShards>>) {
  const out: string[][] = [];
  for (const shard of shards) {
    const ids: string[] = [];
    for await (const s of sourceSamples(shard)) ids.push(s.image ? s.id : `${s.id} (missing)`);
    out.push(ids);
  }
  return out;
}

describe('pool sources', () => {
  it('lists an image folder recursively into deterministic shards, labeled by subfolder', async () => {
    const root = join(tempDir(), 'photos');
    for (const [file, body] of [['cat/b.jpg', 'b'], ['cat/a.png', 'a'], ['dog/c.webp', 'c'], ['d.JPEG', 'd'], ['notes.txt', 'x']]) {
      mkdirSync(join(root, file, '..'), { recursive: true });
      writeFileSync(join(root, file), body);
    }
    const spec = { kind: 'folder' as const, path: root, shardSize: 2 };
    const shards = await listShards(spec);
    assert.deepEqual(shards.map((s) => s.id), ['photos/000000', 'photos/000001']);
    assert.deepEqual(await listShards(spec), shards, 'the same folder lists the same shards');
    assert.deepEqual(await idsOf(shards), [['photos/cat/a', 'photos/cat/b'], ['photos/d', 'photos/dog/c']]);
  });

  it('cuts a JSONL manifest into shards by byte range and reads each shard alone', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.png'), 'x');
    const lines = ['{"id": "x", "uri": "x.png", "label": 1}', '', `{"id": "y", "uri": "file://${join(dir, 'x.png')}"}`, '{"id": "z", "uri": "gone.png"}'];
    writeFileSync(join(dir, 'pool.jsonl'), lines.join('\n'));
    const shards = await listShards({ kind: 'manifest', path: join(dir, 'pool.jsonl'), shardSize: 2 });
    assert.deepEqual(shards.map((s) => s.id), ['pool/000000', 'pool/000001']);
    assert.deepEqual(await idsOf(shards), [['pool/x', 'pool/y'], ['pool/z (missing)']]);
  });

  it('refuses a manifest line without id or uri, naming the line', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.jsonl'), '{"id": "a", "uri": "a.png"}\n{"uri": "b.png"}\n');
    await assert.rejects(listShards({ kind: 'manifest', path: join(dir, 'bad.jsonl'), shardSize: 10 }), /bad\.jsonl line 2: needs string fields/);
  });
});
