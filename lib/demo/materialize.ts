import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { DEMO_DATASETS, type DemoDataset } from '../config/sources';
import { dataDir } from '../paths';
import type { Sample } from '../webdataset/sample';
import { ShardWriter } from '../webdataset/writer';
import { type DemoClass, demoImage, IMAGE_SIDE, loadDemoClass } from './datasets';

/** Bump when the materialized layout or bytes change, so stale copies are rebuilt. */
const LAYOUT_VERSION = 1;
export const DEMO_SHARD_SIZE = 1000;
export type DemoSplit = 'train' | 'test';

export interface DemoIndex {
  version: number;
  dataset: DemoDataset;
  splits: Record<DemoSplit, { samples: number; shards: string[]; perLabel: number[] }>;
}

export function demoRoot(dataset: DemoDataset): string {
  return join(dataDir(), 'demo', dataset);
}

/** Every 7th image of a class is a test image: 6,000/1,000 per Fashion-MNIST class, like the original split. */
export function demoSplitOf(indexInClass: number): DemoSplit {
  return indexInClass % 7 === 6 ? 'test' : 'train';
}

/** Sample key `<label>-<index in class>`: stable across materializations, independent of the run. */
function sampleKey(label: number, index: number): string {
  return `${label}-${String(index).padStart(5, '0')}`;
}

function toSample(dataset: DemoDataset, cls: DemoClass, index: number): Sample {
  const key = sampleKey(cls.label, index);
  const png = encodePng({ width: IMAGE_SIDE, height: IMAGE_SIDE, data: demoImage(cls, index), channels: 1, depth: 8 });
  const meta = { id: `${dataset}/${key}`, label: cls.label, class_name: cls.name, source: dataset, split: demoSplitOf(index) };
  return { key, files: { png: Buffer.from(png), json: Buffer.from(JSON.stringify(meta)) } };
}

/** Samples in an order that interleaves classes, so every shard holds every label. */
function* interleaved(classes: DemoClass[]): Generator<[DemoClass, number]> {
  const longest = Math.max(...classes.map((c) => c.count));
  for (let index = 0; index < longest; index++) {
    for (const cls of classes) if (index < cls.count) yield [cls, index];
  }
}

function readIndex(dataset: DemoDataset): DemoIndex | undefined {
  const file = join(demoRoot(dataset), 'index.json');
  if (!existsSync(file)) return undefined;
  const index = JSON.parse(readFileSync(file, 'utf8')) as DemoIndex;
  return index.version === LAYOUT_VERSION ? index : undefined;
}

async function materialize(dataset: DemoDataset, staging: string): Promise<DemoIndex> {
  const classes = Array.from({ length: 10 }, (_, label) => loadDemoClass(dataset, label));
  const index: DemoIndex = {
    version: LAYOUT_VERSION,
    dataset,
    splits: {
      train: { samples: 0, shards: [], perLabel: Array(10).fill(0) },
      test: { samples: 0, shards: [], perLabel: Array(10).fill(0) },
    },
  };
  const writers: Partial<Record<DemoSplit, ShardWriter>> = {};
  for (const [cls, i] of interleaved(classes)) {
    const split = demoSplitOf(i);
    const stats = index.splits[split];
    if (!writers[split]) {
      const name = `${split}/shard-${String(stats.shards.length).padStart(6, '0')}.tar`;
      stats.shards.push(name);
      writers[split] = await ShardWriter.create(join(staging, name));
    }
    await writers[split].write(toSample(dataset, cls, i));
    stats.samples++;
    stats.perLabel[cls.label]++;
    if (writers[split].samples === DEMO_SHARD_SIZE) {
      await writers[split].close();
      delete writers[split];
    }
  }
  for (const writer of Object.values(writers)) await writer.close();
  await writeFile(join(staging, 'index.json'), JSON.stringify(index, null, 2));
  return index;
}

/**
 * Materializes a demo dataset as PNG WebDataset shards under `<data>/demo/<dataset>/<split>/`, once.
 * Concurrent callers each build in a staging folder; the first rename wins, the others discard theirs.
 */
export async function ensureDemoDataset(dataset: DemoDataset): Promise<DemoIndex> {
  const existing = readIndex(dataset);
  if (existing) return existing;
  const root = demoRoot(dataset);
  const staging = `${root}.staging-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  try {
    const index = await materialize(dataset, staging);
    await rm(root, { recursive: true, force: true });
    try {
      await rename(staging, root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    return readIndex(dataset) ?? index;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Absolute shard paths of a demo split ('all' = train then test). */
export async function demoShards(dataset: DemoDataset, split: DemoSplit | 'all'): Promise<string[]> {
  const index = await ensureDemoDataset(dataset);
  const splits: DemoSplit[] = split === 'all' ? ['train', 'test'] : [split];
  return splits.flatMap((s) => index.splits[s].shards.map((shard) => join(demoRoot(dataset), shard)));
}

export { DEMO_DATASETS };
