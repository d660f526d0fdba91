import { existsSync, readFileSync } from 'node:fs';
import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { ConfigError } from '../config/validate';
import { produceFolderAtomic } from '../files/atomic-write';
import { isObjectUri } from '../object-store';
import { RunLayout } from '../run-layout';
import { listTargetInstances } from '../selection/target-set';
import { listShards } from '../sources/list-shards';
import { contentFingerprint, type ShardRef } from '../sources/shard-ref';
import { sourceSamples } from '../sources/samples';
import { locationIn, writeLocation } from '../storage/location';
import { readRecord, recordOf } from '../storage/record';
import { type Sample, webdatasetKey } from '../webdataset/sample';
import { writeShardSet } from '../webdataset/writer';
import { type TargetClasses, targetClasses } from './classes';
import { type TrainSourceSplit, trainSourceSplit } from './split-of';

/** One labeled split as the trainer reads it: WebDataset shards whose json `label` is the class index. */
export interface LabeledSplit {
  source: SourceSpec;
  samples: number;
  /** Images per label, as the target names its classes. */
  perLabel: Record<string, number>;
}

/** The target's labeled sets; `source`, `samples` and `perLabel` are the train set's, which the workflows read. */
export interface LabeledSet extends LabeledSplit {
  numClasses: number;
  classes: TargetClasses;
  /** Where the class indices are written (`classes.json`). */
  classesFile: string;
  test: LabeledSplit;
  /** With `target.validationPerClass`: the train source's images held out after the first labelsPerClass of each class. */
  validation?: LabeledSplit;
}

const SHARD_SIZE = 1000;

/** The sample as the trainer reads it: the class index in its json; a `.cls` member, which may name the class, is left out. */
function withClassIndex(id: string, sample: Sample, index: number): Sample {
  const { cls: _cls, json, ...files } = sample.files;
  const meta = json ? (JSON.parse(json.toString('utf8')) as Record<string, unknown>) : {};
  return { key: webdatasetKey(sample.key), files: { ...files, json: Buffer.from(JSON.stringify({ id, ...meta, label: index })) } };
}

/** Which samples of a source a split takes: every one, or those the target's split rule sends to it. */
type SplitRule = () => (label: string | undefined) => boolean;
const everySample: SplitRule = () => () => true;
const trainSourcePart = (target: RunConfig['target'], part: TrainSourceSplit): SplitRule => () => {
  const splitOf = trainSourceSplit(target);
  return (label) => splitOf(label) === part;
};

async function writeSplit(setting: string, shards: ShardRef[], rule: SplitRule, classes: TargetClasses, dir: string): Promise<Omit<LabeledSplit, 'source'>> {
  const perLabel: Record<string, number> = {};
  const keep = rule();
  async function* labeled(): AsyncGenerator<Sample> {
    for (const shard of shards) {
      for await (const { id, label, image, sample } of sourceSamples(shard)) {
        // The trainer needs an image and a class index for every sample; unlabeled ones only retrieve.
        if (!image || label === undefined || !keep(label)) continue;
        const index = classes.classToIndex[label];
        if (index === undefined) throw new ConfigError([`${setting}: sample ${id} has class ${label}, which is not among the run's classes (target/<content>/classes.json)`]);
        perLabel[label] = (perLabel[label] ?? 0) + 1;
        yield withClassIndex(id, sample, index);
      }
    }
  }
  const { samples } = await writeShardSet(dir, 'shard', SHARD_SIZE, labeled());
  return { samples, perLabel };
}

/**
 * A split written once as shards with an index.json, then reused. A folder is built under a
 * temporary name and renamed; under a bucket prefix, where nothing renames, the index is written
 * last: a split without one is incomplete and written again (with the same bytes).
 */
function parseSplitIndex(text: string): Omit<LabeledSplit, 'source'> {
  const { samples, perLabel } = JSON.parse(text) as Partial<LabeledSplit>;
  if (typeof samples !== 'number' || typeof perLabel !== 'object' || perLabel === null) throw new Error('not a split index: no samples and perLabel');
  return { samples, perLabel };
}

async function preparedSplit(name: string, dir: string, write: (staging: string) => Promise<Omit<LabeledSplit, 'source'>>): Promise<LabeledSplit> {
  const source: SourceSpec = { kind: 'webdataset', name, shards: dir };
  const indexOf = (folder: string) => locationIn(folder, 'index.json');
  const index = await readRecord(indexOf(dir), parseSplitIndex);
  if (index !== undefined) return { source, ...index };
  const build = async (folder: string) => {
    const split = await write(folder);
    await writeLocation(indexOf(folder), JSON.stringify(split, null, 2));
    return split;
  };
  // A folder whose index is torn is no split: it is replaced.
  const whole = (folder: string) => existsSync(indexOf(folder)) && recordOf(indexOf(folder), readFileSync(indexOf(folder), 'utf8'), parseSplitIndex) !== undefined;
  const written = isObjectUri(dir) ? await build(dir) : await produceFolderAtomic(dir, build, whole);
  return { source, ...written };
}

function parseClasses(text: string): TargetClasses {
  const classes = JSON.parse(text) as Partial<TargetClasses>;
  if (typeof classes.classToIndex !== 'object' || classes.classToIndex === null || typeof classes.numClasses !== 'number') throw new Error('not class indices: no classToIndex and numClasses');
  return classes as TargetClasses;
}

/** The run's class indices: decided from the target's labels on first use, then read as recorded (a torn record is decided again, alike). */
async function recordedClasses(config: RunConfig, file: string): Promise<TargetClasses> {
  const recorded = await readRecord(file, parseClasses);
  if (recorded !== undefined) return recorded;
  const classes = targetClasses(await listTargetInstances(config.target), config.target.validationPerClass);
  await writeLocation(file, JSON.stringify(classes, null, 2));
  return classes;
}

/**
 * The target's labeled train set, with `labelsPerClass` applied (the first n of each class in shard
 * order), its validation split with `validationPerClass` (the next n), and its test set, in whatever layout the target is kept: written once as WebDataset shards
 * whose labels are the run's class indices, under the run's output folder or prefix, then reused
 * while the target holds the same content. A target changed under the same settings (an image
 * replaced in place, added or removed: its listing's fingerprint) gets new sets and class indices
 * in a folder of its own rather than rewriting the old: nothing is ever half rewritten, a bucket
 * keeps no shard of the old set beside the new, and a job still reading the old set is undisturbed.
 */
export async function prepareLabeledSet(config: RunConfig): Promise<LabeledSet> {
  const { target } = config;
  const [trainShards, testShards] = await Promise.all([listShards(target.train), listShards(target.test)]);
  const content = contentFingerprint([
    { id: 'train', version: contentFingerprint(trainShards) },
    { id: 'test', version: contentFingerprint(testShards) },
  ]);
  const files = new RunLayout(config.outputDir, config.name).labeledTarget(content);
  const classes = await recordedClasses(config, files.classes);
  const train = await preparedSplit('target', files.train(target.labelsPerClass), (dir) => writeSplit('target.train', trainShards, trainSourcePart(target, 'train'), classes, dir));
  const test = await preparedSplit('target-test', files.test, (dir) => writeSplit('target.test', testShards, everySample, classes, dir));
  const validation = target.validationPerClass
    ? await preparedSplit('target-validation', files.validation(target.labelsPerClass!, target.validationPerClass), (dir) => writeSplit('target.train', trainShards, trainSourcePart(target, 'validation'), classes, dir))
    : undefined;
  return { ...train, numClasses: classes.numClasses, classes, classesFile: files.classes, test, ...(validation ? { validation } : {}) };
}
