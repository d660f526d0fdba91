import { executeChild, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RunConfig, RunConfigInput } from '../lib/config/schema';
import type { SourceSpec } from '../lib/config/sources';
import type { ExperimentRow } from '../lib/report/types';
import { EXPERIMENT_ARMS } from '../lib/report/experiment-arms';
import type { ExperimentOptions } from '../lib/temporal/workflow-args';
import { cpuWork } from './activity-options';
import { deduplicatePool } from './dedup-pool';
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

type Arm = ExperimentRow['arm'];
/** The arms whose data is a selection: each its own selectSubset child, on the run's configuration changed as the arm says. */
type SelectionArm = Extract<Arm, 'sept' | 'diverse' | 'cluster' | 'dedup'>;
const SELECTION_ARMS: readonly SelectionArm[] = ['sept', 'diverse', 'cluster', 'dedup'];
const isSelectionArm = (arm: Arm): arm is SelectionArm => (SELECTION_ARMS as readonly Arm[]).includes(arm);

/** The run's configuration as a selection arm selects: `sept` the run's own, the others one change each, under their own run name. */
function armSelectionConfig(config: RunConfig, arm: SelectionArm): RunConfig {
  if (arm === 'sept') return config;
  const name = `${config.name.slice(0, 54)}-${arm}`;
  if (arm === 'dedup') return { ...config, name, dedup: { ...config.dedup, enabled: true } };
  return { ...config, name, retrieval: { ...config.retrieval, policy: arm } };
}

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
  // Executions started before the `curation-arms` patch train the paper's four arms and count no duplicates.
  const curation = patched('curation-arms');
  const arms: readonly Arm[] = options.arms ?? (curation ? EXPERIMENT_ARMS : ['none', 'random', 'sept', 'pool']);
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
  if (curation) {
    // The pool's near-duplicate groups: the dedup arm selects without the copies, and every arm's duplicates are counted by them.
    progress.current = 'dedup';
    await deduplicatePool({ ...config, dedup: { ...config.dedup, enabled: true } }, (step) => ({ workflowId: `${id}/${step}` }));
  }
  progress.current = 'select';
  // `sept`'s selection is always made (the random arm draws its size); its workflow id is the one of executions before the patch.
  const selections = new Map<SelectionArm, Awaited<ReturnType<typeof selectSubset>>>();
  for (const arm of SELECTION_ARMS.filter((a) => a === 'sept' || arms.includes(a))) {
    progress.current = arm === 'sept' ? 'select' : `select-${arm}`;
    selections.set(arm, await executeChild(selectSubset, { workflowId: arm === 'sept' ? `${id}/select` : `${id}/select-${arm}`, args: [armSelectionConfig(config, arm)] }));
  }
  const selection = selections.get('sept')!;
  const poolPerSource = await cpu.poolComposition(config, selection.plan.encoderId);
  const poolImages = Object.values(poolPerSource).reduce((a, b) => a + b, 0);
  const subsetOf = (arm: SelectionArm): SourceSpec => ({ kind: 'webdataset', name: 'subset', shards: selections.get(arm)!.outputs.shards });
  /** Duplicates per arm's data, counted once for data every seed shares. */
  const duplicatesOf = new Map<string, number>();
  const countDuplicates = async (key: string, sources: SourceSpec[]) => {
    if (!duplicatesOf.has(key)) duplicatesOf.set(key, (await cpu.armDuplicates(config, selection.plan.encoderId, sources)).duplicates);
    return duplicatesOf.get(key)!;
  };

  const rows: ExperimentRow[] = [];
  for (const seed of seeds) {
    for (const arm of arms) {
      let data: { pretrainData?: SourceSpec[]; skipPretrain?: boolean; images: number; composition: Record<string, number> };
      if (arm === 'none') data = { skipPretrain: true, images: 0, composition: {} };
      else if (isSelectionArm(arm)) {
        const stats = selections.get(arm)!.stats;
        data = { pretrainData: [subsetOf(arm)], images: stats.size, composition: stats.perSource };
      } else if (arm === 'pool') data = { pretrainData: config.pool.sources, images: poolImages, composition: poolPerSource };
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
      const row: ExperimentRow = { arm, seed, pretrainImages: data.images, composition: data.composition, metrics: trained.metrics };
      if (curation) row.duplicates = data.pretrainData ? await countDuplicates(arm === 'random' ? `random-s${seed}` : arm, data.pretrainData) : 0;
      rows.push(row);
      progress.done++;
    }
  }
  const files = await cpu.writeExperiment({ run: config.name, config, poolImages, poolPerSource, rows, startedAt, finishedAt: Date.now() });
  return { rows, ...files };
}
