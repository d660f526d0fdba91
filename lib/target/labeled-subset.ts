import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { produceFolderAtomic } from '../files/atomic-write';
import { RunLayout } from '../run-layout';
import { listShards } from '../sources/list-shards';
import { sourceSamples } from '../sources/samples';
import { SourceError } from '../sources/shard-ref';
import { type Sample, webdatasetKey } from '../webdataset/sample';
import { writeShardSet } from '../webdataset/writer';
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
  async function* labeled(): AsyncGenerator<Sample> {
    for (const shard of await listShards(train)) {
      for await (const { label, image, sample } of sourceSamples(shard)) {
        // The trainer needs an image and a class index for every sample it fine-tunes on.
        if (!image || label === undefined || !/^\d+$/.test(label) || !keep(label)) continue;
        perLabel[label] = (perLabel[label] ?? 0) + 1;
        yield { ...sample, key: webdatasetKey(sample.key) };
      }
    }
  }
  const { samples } = await writeShardSet(dir, 'shard', SHARD_SIZE, labeled());
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
  const dir = new RunLayout(config.outputDir, config.name).labeledTarget(perClass);
  const source: SourceSpec = { kind: 'webdataset', name: 'target', shards: dir };
  const indexOf = (folder: string) => join(folder, 'index.json');
  if (existsSync(indexOf(dir))) return { source, ...JSON.parse(readFileSync(indexOf(dir), 'utf8')) };
  const stats = await produceFolderAtomic(
    dir,
    async (staging) => {
      const built = await build(config.target.train, perClass, staging);
      await writeFile(indexOf(staging), JSON.stringify(built, null, 2));
      return built;
    },
    (folder) => existsSync(indexOf(folder)),
  );
  return { source, ...stats };
}
