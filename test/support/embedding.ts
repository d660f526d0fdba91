import { join } from 'node:path';
import { parseRunConfig } from '../../lib/config/validate';
import type { RunConfig, RunConfigInput } from '../../lib/config/schema';
import { demoShards } from '../../lib/demo/materialize';
import { DEMO_CNN, ensureTestEncoder } from '../../lib/encoder/test-encoders';
import { openStore } from '../../lib/vectors/connect';
import { stringColumn, vectorColumn } from '../../lib/vectors/arrow';
import { tableNames } from '../../lib/vectors/tables';

/** Paths of the first `count` Fashion-MNIST train shards (1,000 demo images each). */
export async function fashionShards(count: number): Promise<string[]> {
  return (await demoShards('fashion-mnist', 'train')).slice(0, count);
}

/**
 * A run config embedding demo shards with the demo CNN test encoder (RANDOM weights: the tests
 * check plumbing, not vector quality), storing into `dir`.
 */
export async function demoEmbedConfig(
  dir: string,
  shards: string[],
  extra: { encoder?: RunConfigInput['encoder']; embed?: RunConfigInput['embed'] } = {},
): Promise<RunConfig> {
  const model = await ensureTestEncoder(DEMO_CNN, join(dir, 'encoders'));
  return parseRunConfig({
    name: 'embed-test',
    pool: { sources: [{ kind: 'webdataset', name: 'fashion-mnist', shards }] },
    target: { preset: 'mnist' },
    encoder: { model, batchSize: 128, ...extra.encoder },
    embed: extra.embed,
    store: { uri: join(dir, 'lancedb') },
    outputDir: join(dir, 'runs'),
  });
}

/** Every vector row of an encoder: ids in table order and vectors by id. */
export async function storedVectors(storeUri: string, encoderId: string, dims: number): Promise<{ ids: string[]; byId: Map<string, Float32Array> }> {
  const table = await (await (await openStore(storeUri)).openTable(tableNames(encoderId).vectors)).query().toArrow();
  const ids = stringColumn(table, 'id');
  const vectors = vectorColumn(table, 'vector', dims);
  return { ids, byId: new Map(ids.map((id, i) => [id, vectors.subarray(i * dims, (i + 1) * dims)])) };
}

export async function quarantineRows(storeUri: string, encoderId: string): Promise<{ id: string; reason: string; detail: string }[]> {
  const table = await (await (await openStore(storeUri)).openTable(tableNames(encoderId).quarantine)).query().toArrow();
  const reasons = stringColumn(table, 'reason');
  const details = stringColumn(table, 'detail');
  return stringColumn(table, 'id').map((id, i) => ({ id, reason: reasons[i], detail: details[i] }));
}
