import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { DEMO_DATASETS, type DemoDataset } from '../config/sources';
import { produceFolderAtomic, writeFileAtomic } from '../files/atomic-write';
import { dataDir } from '../paths';
import { recordOf } from '../storage/record';
import type { Sample } from '../webdataset/sample';
import { writeShardSet } from '../webdataset/writer';
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

/** The index of a materialized copy of the current layout; none, a torn one or an older layout's asks for a new copy. */
function readIndex(root: string): DemoIndex | undefined {
  const file = join(root, 'index.json');
  const index = recordOf(file, existsSync(file) ? readFileSync(file, 'utf8') : undefined, (text) => JSON.parse(text) as DemoIndex);
  return index?.version === LAYOUT_VERSION ? index : undefined;
}

async function materialize(dataset: DemoDataset, staging: string): Promise<DemoIndex> {
  const classes = Array.from({ length: 10 }, (_, label) => loadDemoClass(dataset, label));
  const materializeSplit = async (split: DemoSplit): Promise<DemoIndex['splits'][DemoSplit]> => {
    const perLabel: number[] = Array(10).fill(0);
    function* samples(): Generator<Sample> {
      for (const [cls, i] of interleaved(classes)) {
        if (demoSplitOf(i) !== split) continue;
        perLabel[cls.label]++;
        yield toSample(dataset, cls, i);
      }
    }
    const set = await writeShardSet(join(staging, split), 'shard', DEMO_SHARD_SIZE, samples());
    return { samples: set.samples, shards: set.shards.map((path) => `${split}/${basename(path)}`), perLabel };
  };
  const index: DemoIndex = { version: LAYOUT_VERSION, dataset, splits: { train: await materializeSplit('train'), test: await materializeSplit('test') } };
  await writeFileAtomic(join(staging, 'index.json'), JSON.stringify(index, null, 2));
  return index;
}

/**
 * Materializes a demo dataset as PNG WebDataset shards under `<data>/demo/<dataset>/<split>/`, once.
 * Concurrent callers each build their own copy; the first to finish wins, the others discard theirs.
 */
export async function ensureDemoDataset(dataset: DemoDataset): Promise<DemoIndex> {
  const root = demoRoot(dataset);
  const existing = readIndex(root);
  if (existing) return existing;
  const index = await produceFolderAtomic(root, (staging) => materialize(dataset, staging), (folder) => readIndex(folder) !== undefined);
  return readIndex(root) ?? index;
}

/**
 * A demo shard's content version. Demo shards are byte-identical wherever they are materialized,
 * so the layout version and size say what their content is; the local copy's mtime would make
 * every machine's copy, and every rerun on a new worker, look changed.
 */
export function demoShardVersion(bytes: number): string {
  return `demo-${LAYOUT_VERSION}-${bytes}`;
}

/** Absolute shard paths of a demo split ('all' = train then test). */
export async function demoShards(dataset: DemoDataset, split: DemoSplit | 'all'): Promise<string[]> {
  const index = await ensureDemoDataset(dataset);
  const splits: DemoSplit[] = split === 'all' ? ['train', 'test'] : [split];
  return splits.flatMap((s) => index.splits[s].shards.map((shard) => join(demoRoot(dataset), shard)));
}

export { DEMO_DATASETS };
