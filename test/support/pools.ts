// One small pool of each stored kind, labeled and unlabeled samples, and a sample without an image.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { SourceSpec } from '../../lib/config/sources';
import { writeShard } from '../../lib/webdataset';

export interface TestPools {
  /** tars/pool-0.tar: s0 (label 0), s1 and s2 (label 1), s3 (no label), s4 (label 2, json only). */
  webdataset: SourceSpec;
  /** photos/: cat/a.png, cat/b.png, dog/c.png, d.png (no class folder). */
  folder: SourceSpec;
  /** pool.jsonl: a (label 1), b (label "x"), c (no label), d (label 1, its file missing). */
  manifest: SourceSpec;
  png: Buffer;
}

export async function writeTestPools(dir: string): Promise<TestPools> {
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#808080' } }).png().toBuffer();
  const json = (meta: object) => Buffer.from(JSON.stringify(meta));
  await writeShard(join(dir, 'tars', 'pool-0.tar'), [
    { key: 's0', files: { png, json: json({ label: 0 }) } },
    { key: 's1', files: { png, json: json({ label: 1 }) } },
    { key: 's2', files: { png, json: json({ label: 1 }) } },
    { key: 's3', files: { png, json: json({}) } },
    { key: 's4', files: { json: json({ label: 2 }) } },
  ]);
  for (const file of ['cat/a.png', 'cat/b.png', 'dog/c.png', 'd.png']) {
    mkdirSync(join(dir, 'photos', file, '..'), { recursive: true });
    writeFileSync(join(dir, 'photos', file), png);
  }
  writeFileSync(join(dir, 'a.png'), png);
  const lines = [{ id: 'a', uri: 'a.png', label: 1 }, { id: 'b', uri: 'a.png', label: 'x' }, { id: 'c', uri: 'a.png' }, { id: 'd', uri: 'gone.png', label: 1 }];
  writeFileSync(join(dir, 'pool.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return {
    webdataset: { kind: 'webdataset', name: 'tars', shards: join(dir, 'tars') },
    folder: { kind: 'folder', path: join(dir, 'photos'), shardSize: 3 },
    manifest: { kind: 'manifest', path: join(dir, 'pool.jsonl'), shardSize: 3 },
    png,
  };
}
