import { patched } from '@temporalio/workflow';
import type { Census } from '../lib/sources/census';
import type { RunConfigInput } from '../lib/config/schema';
import { cpuWork, gpuCount } from './activity-options';
import { resolvedRunConfig } from './run-config';

const cpu = cpuWork();
const gpu = gpuCount();

/**
 * Lists the pool's shards on `sept-cpu` into a shard plan, then counts its samples per label on
 * `sept-gpu`, reading the plan by pages: what travels is the plan's location, whatever the pool.
 * Executions started before the `census-by-plan` patch pass the shard list itself.
 */
export async function census(input?: RunConfigInput): Promise<Census> {
  const config = await resolvedRunConfig(input);
  if (!patched('census-by-plan')) return gpu.countLabels(await cpu.listSourceShards(config.pool.sources));
  return gpu.countLabels(await cpu.planCensusShards(config.pool.sources, config.outputDir, config.name));
}
