import { executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import type { ExperimentRow } from '../lib/report/types';
import type { ExperimentOptions } from '../lib/temporal/workflow-args';
import { cpuWork } from './activity-options';
import { embedPool } from './embed-pool';
import { randomPoolSample } from './pool-sample';
import { experimentProgressQuery } from './queries';
import { resolvedRunConfig } from './run-config';
import { selectSubset } from './select-subset';
import { trainEncoder } from './train-encoder';
import { trainModel } from './train-model';

export type { ExperimentOptions } from '../lib/temporal/workflow-args';

export interface ExperimentResult {
  rows: ExperimentRow[];
  /** results.md, results.json, and the Markdown table for the README. */
  markdown: string;
  json: string;
  table: string;
}

export interface ExperimentProgress {
  done: number;
  total: number;
  /** `<arm>-s<seed>` being trained, or the shared stage (encoder, embed, select). */
  current: string;
}

const cpu = cpuWork();

const seeded = (config: RunConfig, seed: number): RunConfig => ({ ...config, pretrain: { ...config.pretrain, seed }, finetune: { ...config.finetune, seed } });

/**
 * SEPT's comparison in miniature, with the same pre-training compute (steps x batch) in every arm:
 * no pre-training, a random pool subset of the SEPT subset's size, the SEPT subset, and the whole
 * pool; every arm fine-tuned and evaluated on the same target, once per seed. The encoder, the
 * pool's vectors and the selection are computed once (child workflows, as in septPipeline).
 */
export async function septExperiment(configInput?: RunConfigInput, options: ExperimentOptions = {}): Promise<ExperimentResult> {
  let config = await resolvedRunConfig(configInput, options);
  const id = workflowInfo().workflowId;
  const seeds = options.seeds ?? [0, 1, 2, 3, 4];
  const arms = options.arms ?? ['none', 'random', 'sept', 'pool'];
  const startedAt = Date.now();
  const progress: ExperimentProgress = { done: 0, total: seeds.length * arms.length, current: 'encoder' };
  setHandler(experimentProgressQuery, () => progress);

  await cpu.checkRunInputs(config);
  if (!config.encoder.model) {
    const trained = await executeChild(trainEncoder, { workflowId: `${id}/encoder`, args: [config] });
    config = { ...config, encoder: { ...config.encoder, ...trained.encoder } };
  }
  progress.current = 'embed';
  await executeChild(embedPool, { workflowId: `${id}/embed`, args: [config] });
  progress.current = 'select';
  const selection = await executeChild(selectSubset, { workflowId: `${id}/select`, args: [config] });
  const poolPerSource = await cpu.poolComposition(config, selection.plan.encoderId);
  const poolImages = Object.values(poolPerSource).reduce((a, b) => a + b, 0);
  const subset: SourceSpec = { kind: 'webdataset', name: 'subset', shards: selection.outputs.shards };

  const rows: ExperimentRow[] = [];
  for (const seed of seeds) {
    for (const arm of arms) {
      let data: { pretrainData?: SourceSpec[]; skipPretrain?: boolean; images: number; composition: Record<string, number> };
      if (arm === 'none') data = { skipPretrain: true, images: 0, composition: {} };
      else if (arm === 'sept') data = { pretrainData: [subset], images: selection.stats.size, composition: selection.stats.perSource };
      else if (arm === 'pool') data = { pretrainData: config.pool.sources, images: poolImages, composition: poolPerSource };
      else {
        const sample = await randomPoolSample(config, `random-s${seed}`, selection.stats.size, seed);
        data = { pretrainData: [sample.source], images: sample.samples, composition: sample.perSource };
      }
      const variant = `${arm}-s${seed}`;
      progress.current = variant;
      const trained = await executeChild(trainModel, {
        workflowId: `${id}/${variant}`,
        args: [seeded(config, seed), { variant, pretrainData: data.pretrainData, skipPretrain: data.skipPretrain }],
      });
      rows.push({ arm, seed, pretrainImages: data.images, composition: data.composition, metrics: trained.metrics });
      progress.done++;
    }
  }
  const files = await cpu.writeExperiment({ run: config.name, config, poolImages, poolPerSource, rows, startedAt, finishedAt: Date.now() });
  return { rows, ...files };
}
