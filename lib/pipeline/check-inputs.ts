import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { ConfigError } from '../config/validate';
import { prepareVectorDestination } from '../embed/prepare';
import { encoderSpecOf } from '../encoder/spec';
import { isObjectUri, ObjectStore, ObjectStoreError } from '../object-store';
import { listTargetInstances } from '../selection/target-set';
import { listShards, sourceLocations } from '../sources/list-shards';
import { contentFingerprint, type ShardRef } from '../sources/shard-ref';
import { outputLocation } from '../storage/location';
import { targetClasses } from '../target/classes';
import { mirrorLocation } from '../trainer/checkpoint-mirror';
import { storeLocation } from '../vectors/connect';
import type { InputContent } from './stage-inputs';

/** A setting's problem, named by its path in the run configuration. */
const invalid = (path: string, message: string) => new ConfigError([`${path}: ${message}`]);

/**
 * Every place a run configuration names lies where this worker lets runs read or write
 * (lib/storage/access.ts), or a ConfigError names the field: a run that reaches past the worker's
 * roots or buckets fails as its configuration is resolved, before anything is read. Each place is
 * let through the door again where it is used.
 */
export function checkRunLocations(config: RunConfig): void {
  mirrorLocation(config);
  storeLocation(config.store.uri);
  if (config.encoder.model) encoderSpecOf(config.encoder);
  if (config.dedup?.encoder) encoderSpecOf(config.dedup.encoder, 'dedup.encoder');
  for (const [i, spec] of config.pool.sources.entries()) sourceLocations(spec, `pool.sources[${i}]`);
  sourceLocations(config.target.train, 'target.train');
  sourceLocations(config.target.test, 'target.test');
}

async function shardsOf(path: string, spec: SourceSpec): Promise<ShardRef[]> {
  let shards: ShardRef[];
  try {
    shards = await listShards(spec, path);
  } catch (err) {
    // A store that does not answer right now may answer the retry; one that refuses will not.
    if (err instanceof ObjectStoreError && err.retryable) throw err;
    if (err instanceof ConfigError) throw err;
    throw invalid(path, (err as Error).message);
  }
  if (shards.length === 0) throw invalid(path, 'lists no shards');
  return shards;
}

/** A bucket prefix as outputDir is listed once: a missing bucket or refused credentials fail now, in the store's own words. */
async function checkOutputBucket(outputDir: string): Promise<void> {
  const location = outputLocation(outputDir);
  if (!isObjectUri(location)) return;
  try {
    for await (const _ of new ObjectStore(location).listObjects('', { pageSize: 1 })) break;
  } catch (err) {
    if (err instanceof ObjectStoreError && !err.retryable) throw invalid('outputDir', err.message);
    throw err;
  }
}

/** What the run's first step found: shards and target images counted, and the inputs' content. */
export interface CheckedInputs {
  poolShards: number;
  targetTrain: number;
  targetTest: number;
  content: InputContent;
}

/**
 * The first step of a run: every input it names exists and makes sense, so that a wrong path or an
 * unusable target fails the run in seconds, naming the setting, before hours of work start. It
 * returns what the inputs hold (`content`), from the listings alone, so that results computed from
 * other contents are not reused.
 */
export async function checkRunInputs(config: RunConfig): Promise<CheckedInputs> {
  await checkOutputBucket(config.outputDir);
  const pool: ShardRef[] = [];
  for (const [i, spec] of config.pool.sources.entries()) pool.push(...(await shardsOf(`pool.sources[${i}]`, spec)));
  const content: InputContent = {
    pool: contentFingerprint(pool),
    targetTrain: contentFingerprint(await shardsOf('target.train', config.target.train)),
    targetTest: contentFingerprint(await shardsOf('target.test', config.target.test)),
  };

  const targets = await listTargetInstances(config.target);
  const train = targets.filter((t) => t.split === 'train');
  const test = targets.filter((t) => t.split === 'test');
  if (train.length === 0) throw invalid('target.train', 'holds no images: the target task needs labeled train images');
  if (test.length === 0) throw invalid('target.test', 'holds no images: the target task needs labeled test images');
  targetClasses(targets, config.target.validationPerClass);
  // The trainer drops each epoch's last incomplete batch: one larger than the labeled set never forms.
  const labeled = train.filter((t) => t.label !== undefined).length;
  const { batchSize } = config.finetune;
  if (batchSize !== undefined && batchSize > labeled) {
    const perClass = config.target.labelsPerClass ? ` (target.labelsPerClass: ${config.target.labelsPerClass})` : '';
    throw invalid('finetune.batchSize', `${batchSize} is larger than the ${labeled} labeled images of target.train${perClass}: lower it, or leave it out to fine-tune on at most that many per step`);
  }

  // A configured encoder is loaded once here, so a file that is not an ONNX image encoder fails now.
  if (config.encoder.model) await prepareVectorDestination(config.encoder, config.store.uri);
  return { poolShards: pool.length, targetTrain: train.length, targetTest: test.length, content };
}
