import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { parseRunConfig } from '../../../../lib/config/validate';
import { listShards } from '../../../../lib/sources/list-shards';
import { RunLayout } from '../../../../lib/run-layout';
import { type LabeledSplit, prepareLabeledSet } from '../../../../lib/target/labeled-subset';
import { readShard, writeShard } from '../../../../lib/webdataset';
import { grayPng, writeImageFolder } from '../../../support/image-folders';
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
    await writeShard(join(dir, 'test', 'shard-0.tar'), samples.slice(0, 3));
    const target = { train: { kind: 'webdataset', shards: join(dir, 'train') }, test: { kind: 'webdataset', shards: join(dir, 'test') }, labelsPerClass: 2 } as const;
    const config = parseRunConfig({ demo: true, name: 'few', outputDir: dir, target });
    const set = await prepareLabeledSet(config);
    assert.deepEqual(set.perLabel, { 0: 2, 1: 2, 2: 2 });
    assert.equal(set.numClasses, 3);
    const written = await readBack(set.source.kind === 'webdataset' ? (set.source.shards as string) : '');
    assert.deepEqual(written.map((s) => s.id), ['t/s0', 't/s1', 't/s2', 't/s3', 't/s5', 't/s7']);
    assert.deepEqual(await prepareLabeledSet(config), set, 'reused, not rebuilt');
    assert.equal(set.validation, undefined, 'no validation split unless asked');

    // validationPerClass: the next n of each class, disjoint from the train set; the train set is the same folder.
    const validated = await prepareLabeledSet(parseRunConfig({ demo: true, name: 'few', outputDir: dir, target: { ...target, validationPerClass: 2 } }));
    assert.deepEqual(validated.source, set.source);
    assert.deepEqual(validated.validation?.perLabel, { 0: 2, 1: 2, 2: 2 });
    const held = await readBack(validated.validation?.source.kind === 'webdataset' ? (validated.validation.source.shards as string) : '');
    assert.deepEqual(held.map((s) => s.id), ['t/s6', 't/s8', 't/s10', 't/s11', 't/s12', 't/s13']);
    assert.deepEqual(held.map((s) => s.label), [0, 2, 1, 2, 0, 1], 'the run\'s class indices');
  });

  it('turns manifest images into trainer shards with the class index in their json', async () => {
    const dir = tempDir();
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();
    writeFileSync(join(dir, 'a.png'), png);
    writeFileSync(join(dir, 'target.jsonl'), ['{"id":"a","uri":"a.png","label":1}', '{"id":"b","uri":"a.png","label":0}', '{"id":"c","uri":"a.png"}'].join('\n'));
    const manifest = { kind: 'manifest', path: join(dir, 'target.jsonl') } as const;
    const config = parseRunConfig({ demo: true, name: 'm', outputDir: dir, target: { train: manifest, test: manifest } });
    const set = await prepareLabeledSet(config);
    assert.equal(set.samples, 2);
    assert.deepEqual(await readBack(set.source.kind === 'webdataset' ? (set.source.shards as string) : ''), [
      { id: 'target/a', label: 1 },
      { id: 'target/b', label: 0 },
    ]);
  });
});

/** Where a labeled split's shards are: the trainer reads WebDataset shards only. */
const shardsOf = ({ source }: LabeledSplit) => (source.kind === 'webdataset' ? (source.shards as string) : assert.fail(`${source.kind} is not a trainer's shards`));

describe('labeled sets in the layouts people keep them in', () => {
  const labelsOf = async (split: LabeledSplit) => (await readBack(shardsOf(split))).map((s) => [s.id, s.label]);

  it('class-name folders: sorted names numbered once, the same indices for train and test, recorded in classes.json', async () => {
    const dir = tempDir();
    await writeImageFolder(join(dir, 'train'), { sandal: 3, bag: 2, 'T-shirt': 1 });
    await writeImageFolder(join(dir, 'test'), { sandal: 1, bag: 1, 'T-shirt': 1 });
    const target = { train: { kind: 'folder', name: 'train', path: join(dir, 'train') }, test: { kind: 'folder', name: 'test', path: join(dir, 'test') }, labelsPerClass: 2 } as const;
    const set = await prepareLabeledSet(parseRunConfig({ demo: true, name: 'folders', outputDir: dir, target }));

    const classes = { rule: 'sorted-names', classToIndex: { 'T-shirt': 0, bag: 1, sandal: 2 }, numClasses: 3 };
    assert.deepEqual(set.classes, classes);
    assert.equal(set.numClasses, 3);
    const layout = new RunLayout(dir, 'folders');
    const [content] = readdirSync(join(layout.dir, 'target'));
    assert.equal(set.classesFile, layout.labeledTarget(content).classes);
    assert.deepEqual(JSON.parse(readFileSync(set.classesFile, 'utf8')), classes);
    assert.deepEqual(set.perLabel, { 'T-shirt': 1, bag: 2, sandal: 2 });
    assert.deepEqual(await labelsOf(set), [
      ['train/T-shirt/0', 0],
      ['train/bag/0', 1],
      ['train/bag/1', 1],
      ['train/sandal/0', 2],
      ['train/sandal/1', 2],
    ]);
    assert.deepEqual(set.test.perLabel, { 'T-shirt': 1, bag: 1, sandal: 1 });
    assert.deepEqual(await labelsOf(set.test), [
      ['test/T-shirt/0', 0],
      ['test/bag/0', 1],
      ['test/sandal/0', 2],
    ]);
  });

  it('WebDataset shards labeled by .cls class names, measured on a manifest with string labels', async () => {
    const dir = tempDir();
    const png = await grayPng(128);
    await writeShard(join(dir, 'train', 'shard-0.tar'), [
      { key: 'a', files: { png, cls: Buffer.from('dog\n') } },
      { key: 'b', files: { png, cls: Buffer.from('cat'), json: Buffer.from('{"source":"web"}') } },
    ]);
    writeFileSync(join(dir, 'x.png'), png);
    writeFileSync(join(dir, 'test.jsonl'), ['{"id":"x","uri":"x.png","label":"cat"}', '{"id":"y","uri":"x.png","label":"dog"}'].join('\n'));
    const target = { train: { kind: 'webdataset', name: 'web', shards: join(dir, 'train') }, test: { kind: 'manifest', name: 'held', path: join(dir, 'test.jsonl') } } as const;
    const set = await prepareLabeledSet(parseRunConfig({ demo: true, name: 'cls', outputDir: dir, target }));

    assert.deepEqual(set.classes.classToIndex, { cat: 0, dog: 1 });
    const written = [];
    for (const ref of await listShards({ kind: 'webdataset', shards: shardsOf(set) })) {
      for await (const sample of readShard(ref.path)) written.push({ members: Object.keys(sample.files).sort(), json: JSON.parse(sample.files.json.toString()) });
    }
    // The index replaces the name: the .cls member goes, the json keeps what else it held.
    assert.deepEqual(written, [
      { members: ['json', 'png'], json: { id: 'web/a', label: 1 } },
      { members: ['json', 'png'], json: { id: 'web/b', source: 'web', label: 0 } },
    ]);
    assert.deepEqual(await labelsOf(set.test), [
      ['held/x', 0],
      ['held/y', 1],
    ]);
  });
});

describe('a labeled target that changed under the same settings', () => {
  const imagesOf = async (split: LabeledSplit) => {
    const out: Record<string, Buffer> = {};
    for (const ref of await listShards(split.source)) {
      for await (const sample of readShard(ref.path)) out[JSON.parse(sample.files.json.toString()).id] = sample.files.png;
    }
    return out;
  };

  it('is written again in a folder of its own, with its own class indices; the same content is reused and the old sets stay as they were', async () => {
    const dir = tempDir();
    await writeImageFolder(join(dir, 'train'), { sandal: 2, bag: 2 });
    await writeImageFolder(join(dir, 'test'), { sandal: 1, bag: 1 });
    const target = { train: { kind: 'folder', name: 'train', path: join(dir, 'train') }, test: { kind: 'folder', name: 'test', path: join(dir, 'test') }, labelsPerClass: 2 } as const;
    const config = parseRunConfig({ demo: true, name: 'changing', outputDir: join(dir, 'runs'), target });
    const first = await prepareLabeledSet(config);
    const index = join(shardsOf(first), 'index.json');
    const writtenAt = statSync(index).mtimeMs;
    assert.deepEqual(await prepareLabeledSet(config), first, 'the same content: reused');
    assert.equal(statSync(index).mtimeMs, writtenAt, 'not written again');

    // An image replaced in place: same name, other pixels.
    const replaced = await grayPng(200);
    writeFileSync(join(dir, 'train', 'bag', '0.png'), replaced);
    utimesSync(join(dir, 'train', 'bag', '0.png'), 5000, 5000);
    const second = await prepareLabeledSet(config);
    assert.notEqual(shardsOf(second), shardsOf(first));
    assert.deepEqual((await imagesOf(second))['train/bag/0'], replaced, 'the new image is trained on');
    assert.notDeepEqual((await imagesOf(first))['train/bag/0'], replaced, 'the old set is left as it was');
    assert.deepEqual(second.classes, first.classes);

    // A class added to both splits: new class indices, recorded beside the new sets.
    await writeImageFolder(join(dir, 'train'), { zebra: 1 });
    await writeImageFolder(join(dir, 'test'), { zebra: 1 });
    const third = await prepareLabeledSet(config);
    assert.deepEqual(third.classes.classToIndex, { bag: 0, sandal: 1, zebra: 2 });
    assert.deepEqual(third.perLabel, { bag: 2, sandal: 2, zebra: 1 });
    assert.notEqual(third.classesFile, first.classesFile);
    assert.deepEqual(JSON.parse(readFileSync(first.classesFile, 'utf8')), first.classes, 'the old class indices are left as they were');
    assert.equal(new Set([first, second, third].map((s) => shardsOf(s.test))).size, 3, 'the test set follows the content of train and test');
  });
});
