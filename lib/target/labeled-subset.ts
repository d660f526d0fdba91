import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { resolveDataPath } from '../paths';
import { listShards } from '../sources/list-shards';
import { sourceSamples } from '../sources/samples';
import { SourceError } from '../sources/shard-ref';
import { ShardWriter } from '../webdataset/writer';
import { firstPerClass } from './first-per-class';

export interface LabeledSet {
  /** The labeled train set as a source the trainer can read. */
  source: SourceSpec;
  samples: number;
  perLabel: Record<string, number>;
  numClasses: number;
}

const SHARD_SIZE = 1000;

async function build(train: SourceSpec, perClass: number | undefined, dir: string): Promise<Omit<LabeledSet, 'source'>> {
  const perLabel: Record<string, number> = {};
  const keep = firstPerClass(perClass);
  let writer: ShardWriter | undefined;
  let shards = 0;
  let samples = 0;
  for (const shard of await listShards(train)) {
    for await (const { label, sample } of sourceSamples(shard)) {
      // The trainer needs a class index for every sample it fine-tunes on.
      if (label === undefined || !/^\d+$/.test(label) || !keep(label)) continue;
      perLabel[label] = (perLabel[label] ?? 0) + 1;
      writer ??= await ShardWriter.create(join(dir, `shard-${String(shards++).padStart(6, '0')}.tar`));
      await writer.write({ ...sample, key: sample.key.replace(/\./g, '_') });
      samples++;
      if (writer.samples === SHARD_SIZE) {
        await writer.close();
        writer = undefined;
      }
    }
  }
  await writer?.close();
  if (samples === 0) throw new SourceError('target.train: no samples with an integer class label (the trainer reads class indices; class-name folders are not mapped yet)');
  const numClasses = Math.max(...Object.keys(perLabel).map(Number)) + 1;
  return { samples, perLabel, numClasses };
}

/**
 * The target's labeled train set, with `labelsPerClass` applied (the first n of each class in shard
 * order): written once as WebDataset shards under the run's output folder, then reused.
 */
export async function prepareLabeledSet(config: RunConfig): Promise<LabeledSet> {
  const perClass = config.target.labelsPerClass;
  const dir = join(resolveDataPath(config.outputDir), config.name, 'target', perClass ? `train-${perClass}-per-class` : 'train');
  const source: SourceSpec = { kind: 'webdataset', name: 'target', shards: dir };
  const indexFile = join(dir, 'index.json');
  if (existsSync(indexFile)) return { source, ...JSON.parse(readFileSync(indexFile, 'utf8')) };
  const staging = `${dir}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const stats = await build(config.target.train, perClass, staging);
    await writeFile(join(staging, 'index.json'), JSON.stringify(stats, null, 2));
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    return { source, ...stats };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
