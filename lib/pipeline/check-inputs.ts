import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { ConfigError } from '../config/validate';
import { prepareVectorDestination } from '../embed/prepare';
import { listTargetInstances } from '../selection/target-set';
import { listShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';

/** A setting's problem, named by its path in the run configuration. */
const invalid = (path: string, message: string) => new ConfigError([`${path}: ${message}`]);

async function shardsOf(path: string, spec: SourceSpec): Promise<ShardRef[]> {
  let shards: ShardRef[];
  try {
    shards = await listShards(spec);
  } catch (err) {
    throw invalid(path, (err as Error).message);
  }
  if (shards.length === 0) throw invalid(path, 'lists no shards');
  return shards;
}

/**
 * The first step of a run: every input it names exists and makes sense, so that a wrong path or an
 * unusable target fails the run in seconds, naming the setting, before hours of work start.
 */
export async function checkRunInputs(config: RunConfig): Promise<{ poolShards: number; targetTrain: number; targetTest: number }> {
  let poolShards = 0;
  for (const [i, spec] of config.pool.sources.entries()) poolShards += (await shardsOf(`pool.sources[${i}]`, spec)).length;
  await shardsOf('target.train', config.target.train);
  await shardsOf('target.test', config.target.test);

  const targets = await listTargetInstances(config.target);
  const train = targets.filter((t) => t.split === 'train');
  const test = targets.filter((t) => t.split === 'test');
  if (train.length === 0) throw invalid('target.train', 'holds no images: the target task needs labeled train images');
  if (test.length === 0) throw invalid('target.test', 'holds no images: the target task needs labeled test images');
  const testLabels = new Set(test.map((t) => t.label));
  const missing = [...new Set(train.map((t) => t.label))].filter((l) => !testLabels.has(l));
  if (missing.length > 0) throw invalid('target.test', `has no image of class ${missing.join(', ')}, which target.train has: the test set cannot measure those classes`);

  // A configured encoder is loaded once here, so a file that is not an ONNX image encoder fails now.
  if (config.encoder.model) await prepareVectorDestination(config.encoder, config.store.uri);
  return { poolShards, targetTrain: train.length, targetTest: test.length };
}
