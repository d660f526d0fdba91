import { patched } from '@temporalio/workflow';
import type { Census } from '../lib/sources/census';
import type { RunConfigInput } from '../lib/config/schema';
import { passPages } from '../lib/sources/pass-pages';
import { cpuWork, gpuCount } from './activity-options';
import { resolvedRunConfig } from './run-config';
import { inWindow } from './window';

const cpu = cpuWork();
const gpu = gpuCount();

/**
 * Lists the pool's shards on `sept-cpu` into a shard plan, then counts its samples per label on
 * `sept-gpu`, page by page of the plan in a bounded window (`embed.window`: a read pass over the
 * pool, as embedding is), each page's counts into a file; folds the pages into the census on
 * `sept-cpu`. What travels is the plan's location and page numbers, whatever the pool.
 * Executions started before the `census-by-page` patch count the whole plan in one activity, and
 * those started before `census-by-plan` pass the shard list itself.
 */
export async function census(input?: RunConfigInput): Promise<Census> {
  const config = await resolvedRunConfig(input);
  if (!patched('census-by-plan')) return gpu.countLabels(await cpu.listSourceShards(config.pool.sources));
  const plan = await cpu.planCensusShards(config.pool.sources, config.outputDir, config.name);
  if (!patched('census-by-page')) return gpu.countLabels(plan);
  const pages = passPages(plan.total);
  await inWindow(
    Array.from({ length: pages.count }, (_, page) => page),
    config.embed.window,
    async (page) => {
      await gpu.countLabelPage(plan, pages, page, config.outputDir, config.name);
    },
  );
  return cpu.foldCensus(pages, config.outputDir, config.name);
}
