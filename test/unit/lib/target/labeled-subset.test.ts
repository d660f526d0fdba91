import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { parseRunConfig } from '../../../../lib/config/validate';
import { listShards } from '../../../../lib/sources/list-shards';
import { prepareLabeledSet } from '../../../../lib/target/labeled-subset';
import { readShard, writeShard } from '../../../../lib/webdataset';
import { tempDir } from '../../../support/tmp';

async function readBack(dir: string): Promise<{ id: string; label: number }[]> {
  const out: { id: string; label: number }[] = [];
  for (const ref of await listShards({ kind: 'webdataset', shards: dir })) {
    for await (const sample of readShard(ref.path)) out.push(JSON.parse(sample.files.json.toString()));
  }
  return out;
}

describe('the labeled target set', () => {
  it('keeps the first n of each class in shard order, skips unlabeled samples, and is written once', async () => {
    const dir = tempDir();
    const samples = Array.from({ length: 20 }, (_, i) => ({
      key: `s${String(i).padStart(2, '0')}`,
      files: { png: Buffer.from(`img${i}`), json: Buffer.from(JSON.stringify(i % 5 === 4 ? { id: `t/s${i}` } : { id: `t/s${i}`, label: i % 3 })) },
    }));
    await writeShard(join(dir, 'train', 'shard-0.tar'), samples);
    const config = parseRunConfig({ demo: true, name: 'few', outputDir: dir, target: { train: { kind: 'webdataset', shards: join(dir, 'train') }, labelsPerClass: 2 } });
    const set = await prepareLabeledSet(config);
    assert.deepEqual(set.perLabel, { 0: 2, 1: 2, 2: 2 });
    assert.equal(set.numClasses, 3);
    const written = await readBack(set.source.kind === 'webdataset' ? (set.source.shards as string) : '');
    assert.deepEqual(written.map((s) => s.id), ['t/s0', 't/s1', 't/s2', 't/s3', 't/s5', 't/s7']);
    assert.deepEqual(await prepareLabeledSet(config), set, 'reused, not rebuilt');
  });

  it('turns manifest images into trainer shards with the class index in their json', async () => {
    const dir = tempDir();
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();
    writeFileSync(join(dir, 'a.png'), png);
    writeFileSync(join(dir, 'target.jsonl'), ['{"id":"a","uri":"a.png","label":1}', '{"id":"b","uri":"a.png","label":0}', '{"id":"c","uri":"a.png"}'].join('\n'));
    const config = parseRunConfig({ demo: true, name: 'm', outputDir: dir, target: { train: { kind: 'manifest', path: join(dir, 'target.jsonl') } } });
    const set = await prepareLabeledSet(config);
    assert.equal(set.samples, 2);
    assert.deepEqual(await readBack(set.source.kind === 'webdataset' ? (set.source.shards as string) : ''), [
      { id: 'target/a', label: 1 },
      { id: 'target/b', label: 0 },
    ]);
  });
});
