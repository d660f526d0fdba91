import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { DEMO_DATASETS, type DemoDataset, type SourceSpec } from '../config/sources';
import { produceFolderAtomic, writeFileAtomic } from '../files/atomic-write';
import { dataDir } from '../paths';
import { recordOf } from '../storage/record';
import type { Sample } from '../webdataset/sample';
import { writeShardSet } from '../webdataset/writer';
import { type DemoClass, demoImage, IMAGE_SIDE, loadDemoClass } from './datasets';
import type { KnownCopy } from '../dedup/agreement';
import { copyImage, type CopyTransform, plantedCopies } from './near-duplicates';

/** Bump when the materialized layout or bytes change, so stale copies are rebuilt. */
const LAYOUT_VERSION = 4;
export const DEMO_SHARD_SIZE = 1000;
/** train and test: the dataset's own images; copies: the planted near-duplicates of some train images (lib/demo/near-duplicates.ts). */
export type DemoSplit = 'train' | 'test' | 'copies';

/** A planted near-duplicate, by sample id: the copy, the train image it copies, and how. */
export interface PlantedCopy extends KnownCopy {
  transform: CopyTransform;
}

export interface DemoIndex {
  version: number;
  dataset: DemoDataset;
  splits: Record<DemoSplit, { samples: number; shards: string[]; perLabel: number[] }>;
}

/** The copies split's list of known near-duplicates, one JSON line each. */
const KNOWN_COPIES_FILE = 'copies/known-copies.jsonl';

export function demoRoot(dataset: DemoDataset): string {
  return join(dataDir(), 'demo', dataset);
}

/** Every 7th image of a class is a test image: 6,000/1,000 per Fashion-MNIST class, like the original split. */
export function demoSplitOf(indexInClass: number): 'train' | 'test' {
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

/** The planted copies of train image `index`, as samples keyed `<original key>-copy<n>`, each with its known-copy record. */
async function* copySamples(dataset: DemoDataset, cls: DemoClass, index: number): AsyncGenerator<{ sample: Sample; known: PlantedCopy }> {
  const original = sampleKey(cls.label, index);
  for (const [n, transform] of plantedCopies(index).entries()) {
    const key = `${original}-copy${n + 1}`;
    const { ext, bytes } = await copyImage(cls, index, transform);
    const known: PlantedCopy = { copy: `${dataset}/${key}`, original: `${dataset}/${original}`, transform };
    const meta = { id: known.copy, label: cls.label, class_name: cls.name, source: dataset, split: 'copies', copy_of: known.original, transform };
    yield { sample: { key, files: { [ext]: bytes, json: Buffer.from(JSON.stringify(meta)) } }, known };
  }
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
  const known: PlantedCopy[] = [];
  const materializeSplit = async (split: DemoSplit): Promise<DemoIndex['splits'][DemoSplit]> => {
    const perLabel: number[] = Array(10).fill(0);
    async function* samples(): AsyncGenerator<Sample> {
      for (const [cls, i] of interleaved(classes)) {
        if (split !== 'copies') {
          if (demoSplitOf(i) !== split) continue;
          perLabel[cls.label]++;
          yield toSample(dataset, cls, i);
        } else if (demoSplitOf(i) === 'train') {
          for await (const copy of copySamples(dataset, cls, i)) {
            perLabel[cls.label]++;
            known.push(copy.known);
            yield copy.sample;
          }
        }
      }
    }
    const set = await writeShardSet(join(staging, split), 'shard', DEMO_SHARD_SIZE, samples());
    return { samples: set.samples, shards: set.shards.map((path) => `${split}/${basename(path)}`), perLabel };
  };
  const index: DemoIndex = {
    version: LAYOUT_VERSION,
    dataset,
    splits: { train: await materializeSplit('train'), test: await materializeSplit('test'), copies: await materializeSplit('copies') },
  };
  await writeFileAtomic(join(staging, KNOWN_COPIES_FILE), known.map((k) => JSON.stringify(k)).join('\n') + '\n');
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

/** The planted near-duplicates of a demo dataset (its `copies` split), each with the train image it copies. */
export async function demoPlantedCopies(dataset: DemoDataset): Promise<PlantedCopy[]> {
  await ensureDemoDataset(dataset);
  const text = readFileSync(join(demoRoot(dataset), KNOWN_COPIES_FILE), 'utf8');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as PlantedCopy);
}

/**
 * The planted copies a pool holds with their originals: those of every demo `copies` source whose
 * dataset's train images (split `train` or `all`) are in the pool too. Empty for a pool of no demo copies.
 */
export async function plantedCopiesIn(sources: readonly SourceSpec[]): Promise<PlantedCopy[]> {
  const demo = sources.filter((s) => s.kind === 'demo');
  const withOriginals = (dataset: DemoDataset) => demo.some((s) => s.dataset === dataset && (s.split === 'all' || s.split === 'train'));
  const datasets = [...new Set(demo.filter((s) => s.split === 'copies' && withOriginals(s.dataset)).map((s) => s.dataset))];
  return (await Promise.all(datasets.map(demoPlantedCopies))).flat();
}

/** Absolute shard paths of a demo split ('all' = train then test; the planted copies only when asked for by name). */
export async function demoShards(dataset: DemoDataset, split: DemoSplit | 'all'): Promise<string[]> {
  const index = await ensureDemoDataset(dataset);
  const splits: DemoSplit[] = split === 'all' ? ['train', 'test'] : [split];
  return splits.flatMap((s) => index.splits[s].shards.map((shard) => join(demoRoot(dataset), shard)));
}

export { DEMO_DATASETS };
