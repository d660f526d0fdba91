import { patched } from '@temporalio/workflow';
import type { PoolSample } from '../activities/pipeline';
import type { RunConfig } from '../lib/config/schema';
import { passPages } from '../lib/sources/pass-pages';
import { cpuWork } from './activity-options';
import { inWindow } from './window';

const cpu = cpuWork();

const upTo = (count: number) => Array.from({ length: count }, (_, i) => i);

/**
 * A uniform random pool sample of `size` (lib/selection/random-sample.ts), stage 0's and the
 * experiment's random arm's: the pool planned into the sample's own shard plan, each page of it
 * ranked by its own activity, the pages folded into the manifest, then the sample's shards copied
 * group by group. Pages and groups run in the `embed.window`: each is a read pass over the pool, as
 * embedding is. What travels is the plan's location, page and group numbers, whatever the pool.
 * Executions started before the `sample-by-page` patch sample in one activity.
 */
export async function randomPoolSample(config: RunConfig, name: string, size: number, seed: number): Promise<PoolSample> {
  if (!patched('sample-by-page')) return cpu.samplePool(config, name, size, seed);
  const plan = await cpu.planPoolSample(config, name);
  const pages = passPages(plan.total);
  await inWindow(upTo(pages.count), config.embed.window, async (page) => {
    await cpu.samplePoolPage(config, name, plan, pages, page, size, seed);
  });
  const { sample, groups } = await cpu.foldPoolSample(config, name, plan, pages, size);
  await inWindow(upTo(groups), config.embed.window, async (group) => {
    await cpu.writePoolSampleGroup(config, name, group);
  });
  return sample;
}
