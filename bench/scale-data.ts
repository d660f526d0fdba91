// The simulated pool and target of `npm run bench:scale`: no real images. Every sample is one tiny
// 28x28 PNG, so that listing, counting, embedding and materializing read a real image per sample at
// almost no cost: the selection's pool as WebDataset tars (what pools of a billion images come as),
// targets and the pools of one-image shards as manifests whose lines all name one PNG file. Vectors
// are synthetic (clustered unit vectors), written straight into the encoder's vectors table under
// the ids and shard ids that listing the same sources gives (`<source>/<key>` in shards
// `<source>/<tar name>` or `<source>/<manifest shard number>`, lib/sources/list-shards.ts).
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { connect, type Table } from '@lancedb/lancedb';
import { encode as encodePng } from 'fast-png';
import type { RunConfigInput } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import { parseRunConfig } from '../lib/config/validate';
import { encoderIdOf } from '../lib/encoder/encoder-id';
import { encoderSpecOf } from '../lib/encoder/spec';
import { vectorTable } from '../lib/retrieval/arrow-vectors';
import { clusteredVectors } from '../lib/retrieval/synthetic';
import { vectorsTableName } from '../lib/retrieval/vector-store';
import { writeShard } from '../lib/webdataset/writer';

/** The one image of every sample: 28x28 grayscale, what the demo encoder takes. */
const tinyPng = () => Buffer.from(encodePng({ width: 28, height: 28, data: Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 37) % 256), channels: 1, depth: 8 }));

async function writeTinyImage(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, tinyPng());
}

/** A sample's key (a manifest line's id, a tar sample's key): fixed width, so that listing order, id order and shard order agree. */
const sampleKey = (prefix: string, i: number) => `${prefix}${String(i).padStart(9, '0')}`;

/** A shard's name within its source: a manifest shard's number as manifestShards writes it, or a tar's name. */
const shardNumber = (shard: number) => String(shard).padStart(6, '0');
const tarName = (source: string) => (shard: number) => `${source}-${shardNumber(shard)}`;

/** A JSONL manifest of `count` lines, each naming `image` (relative to the manifest), labeled among `classes` when given. */
async function writeManifest(path: string, count: number, opts: { prefix: string; image: string; classes?: number }): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const LINES = 10_000;
  for (let first = 0; first < count; first += LINES) {
    let text = '';
    for (let i = first; i < Math.min(count, first + LINES); i++) {
      const label = opts.classes ? `,"label":"c${i % opts.classes}"` : '';
      text += `{"id":"${sampleKey(opts.prefix, i)}","uri":"${opts.image}"${label}}\n`;
    }
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const manifestSource = (name: string, path: string, shardSize: number): SourceSpec => ({ kind: 'manifest', name, path, shardSize });

/** A WebDataset source of `count` samples in tars of `shardSize` under `dir`, every sample the tiny PNG. */
async function writeTarPool(dir: string, rows: { source: string; prefix: string; count: number; shardSize: number }): Promise<SourceSpec> {
  const png = tinyPng();
  const name = tarName(rows.source);
  for (let shard = 0; shard * rows.shardSize < rows.count; shard++) {
    const first = shard * rows.shardSize;
    const keys = Array.from({ length: Math.min(rows.shardSize, rows.count - first) }, (_, i) => sampleKey(rows.prefix, first + i));
    await writeShard(join(dir, `${name(shard)}.tar`), keys.map((key) => ({ key, files: { png } })));
  }
  return { kind: 'webdataset', name: rows.source, shards: dir };
}

/** The encoder id a run with this model gets (its file hash and the default preprocessing). */
async function encoderIdFor(model: string): Promise<string> {
  return encoderIdOf(encoderSpecOf(parseRunConfig({ demo: true, encoder: { model } }).encoder));
}

/**
 * Appends `count` synthetic vectors of source `source` to the encoder's vectors table, under the
 * ids and shards of a manifest or tars written here with the same prefix and shard size; generated
 * and written in slices, so that a pool larger than memory could be written too.
 */
async function writeSyntheticVectors(
  store: string,
  encoderId: string,
  rows: { source: string; prefix: string; count: number; shardSize: number; dim: number; seed: number; shardName: (shard: number) => string },
): Promise<void> {
  const db = await connect(store);
  const name = vectorsTableName(encoderId);
  let table: Table | undefined = (await db.tableNames()).includes(name) ? await db.openTable(name) : undefined;
  const SLICE = 100_000;
  for (let first = 0; first < rows.count; first += SLICE) {
    const n = Math.min(SLICE, rows.count - first);
    // Pool and targets share the cluster centres (synthetic.ts), so targets find near neighbours.
    const { vectors } = clusteredVectors({ count: n, dim: rows.dim, centers: 1000, spread: 0.8, seed: rows.seed * 1_000_003 + first });
    const ids = Array.from({ length: n }, (_, i) => `${rows.source}/${sampleKey(rows.prefix, first + i)}`);
    const shards = Array.from({ length: n }, (_, i) => `${rows.source}/${rows.shardName(Math.floor((first + i) / rows.shardSize))}`);
    const data = vectorTable({ ids, encoderId, vectors, dim: rows.dim, columns: { shard_id: shards } });
    if (table) await table.add(data);
    else table = await db.createTable(name, data);
  }
}

/** One selection case: a pool of `poolRows`, `targets` train instances and a test split of a hundredth of them. */
export interface SelectionCase {
  poolRows: number;
  targets: number;
}

const POOL_SHARD_ROWS = 1000;
export const DIM = 128;
export const K = 50;
/** The default budget, unless the pool is too small for it (BENCH_SCALE well below 1). */
const BUDGET = 8000;

export const testTargets = (c: SelectionCase) => Math.max(10, Math.ceil(c.targets / 100));

/**
 * Writes a selection case under `dir`: the pool's tars, the targets' manifests and image, and the
 * vectors of pool, train and test in a store of its own; returns the run's configuration. The exact
 * path throughout, so that every size does the same kind of work (the ANN path is bench:retrieval's).
 */
export async function writeSelectionCase(dir: string, name: string, model: string, c: SelectionCase): Promise<RunConfigInput> {
  const encoderId = await encoderIdFor(model);
  const store = join(dir, 'lancedb');
  const poolRows = { source: 'pool', prefix: 'p', count: c.poolRows, shardSize: POOL_SHARD_ROWS };
  const pool = await writeTarPool(join(dir, 'pool'), poolRows);
  await writeSyntheticVectors(store, encoderId, { ...poolRows, dim: DIM, seed: 1, shardName: tarName('pool') });
  await writeTinyImage(join(dir, 'image.png'));
  const targetSet = async (source: string, prefix: string, count: number, seed: number) => {
    const path = join(dir, `${source}.jsonl`);
    await writeManifest(path, count, { prefix, image: 'image.png', classes: 100 });
    await writeSyntheticVectors(store, encoderId, { source, prefix, count, shardSize: POOL_SHARD_ROWS, dim: DIM, seed, shardName: shardNumber });
    return manifestSource(source, path, POOL_SHARD_ROWS);
  };
  const train = await targetSet('train', 't', c.targets, 2);
  const test = await targetSet('test', 'e', testTargets(c), 3);
  return {
    name,
    pool: { sources: [pool] },
    target: { train, test },
    encoder: { model },
    store: { uri: store },
    outputDir: join(dir, 'runs'),
    retrieval: { k: K, budget: Math.min(BUDGET, Math.floor(c.poolRows / 2)), search: 'exact' },
  };
}

/** A pool of `shards` one-image manifest shards: the most shards for the fewest images. */
export async function writeTinyShardPool(dir: string, shards: number): Promise<SourceSpec> {
  await writeTinyImage(join(dir, 'image.png'));
  const path = join(dir, `shards-${shards}.jsonl`);
  await writeManifest(path, shards, { prefix: 's', image: 'image.png', classes: 10 });
  return manifestSource('tiny', path, 1);
}
