import type { Census } from '../lib/sources/census';
import type { RunConfigInput } from '../lib/config/schema';
import { cpuWork, gpuCount } from './activity-options';
import { resolvedRunConfig } from './run-config';

const cpu = cpuWork();
const gpu = gpuCount();

/** Lists the pool's shards on `sept-cpu`, then counts its samples per label on `sept-gpu`. */
export async function census(input?: RunConfigInput): Promise<Census> {
  const config = await resolvedRunConfig(input);
  const shards = await cpu.listSourceShards(config.pool.sources);
  return gpu.countLabels(shards);
}
