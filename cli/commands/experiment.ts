import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Command } from 'commander';
import { startWorkflowRun } from '../../lib/client';
import { explainingFailure } from '../../lib/client/failure';
import { loadRunConfig } from '../../lib/config/load';
import { parseRunConfig } from '../../lib/config/validate';
import { EXPERIMENT_ARMS, type ExperimentArm } from '../../lib/report/experiment-arms';
import { experimentProgressQuery } from '../../workflows/queries';
import type { ExperimentOptions, septExperiment } from '../../workflows/sept-experiment';
import { refreshUntilSettled } from '../follow';
import { withLocalStack } from './stack';

/**
 * The experiment's defaults: the demo task with 200 pre-training steps per arm (35 trainings of the
 * demo's full 600 steps would take hours on a 2-core machine). Fixed before any result was seen.
 * `dedup.threshold` 0.99: at the default 0.95 the demo's stage-0 encoder links 95.8% of the pool
 * into one chained group and the deduplication refuses (dedup.maxRemovedShare); at 0.99 it removes
 * 27% (docs/stages/dedup.md). Chosen by that removed share, before any training. A validation split
 * of 50 MNIST train images per class after the target's 20 labeled ones: the arm to pick is chosen
 * on it (docs/experiment.md), never on the test set.
 */
const EXPERIMENT_DEFAULTS = {
  demo: true,
  name: 'experiment',
  target: { labelsPerClass: 20, validationPerClass: 50 },
  pretrain: { steps: 200 },
  dedup: { threshold: 0.99 },
};

/** `--arms none,sept`: the arms to train, in the experiment's own order; unknown names are refused, naming the known ones. */
export function parseArms(list: string): ExperimentArm[] {
  const names = list.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(EXPERIMENT_ARMS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`--arms: ${unknown.length > 0 ? `no arm ${unknown.map((n) => `"${n}"`).join(', ')}` : 'names no arm'}; the arms are ${EXPERIMENT_ARMS.join(', ')}`);
  }
  return EXPERIMENT_ARMS.filter((arm) => names.includes(arm));
}

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description(
      "SEPT's comparison at small scale: no pre-training, a random subset, the SEPT subset, the subsets of the diverse and cluster policies and of the deduplicated pool, the whole pool, over several seeds (what `npm run experiment` does)",
    )
    .option('-c, --config <file>', 'run configuration (.json, .yaml); default: the demo with 200 pre-training steps per arm')
    .option('--seeds <n>', 'seeds per arm', '5')
    .option('--arms <list>', `the arms to train, comma-separated (default: all of ${EXPERIMENT_ARMS.join(', ')})`)
    .action(async (opts: { config?: string; seeds: string; arms?: string }) => {
      const config = opts.config ? await loadRunConfig(opts.config) : parseRunConfig(EXPERIMENT_DEFAULTS);
      const options: ExperimentOptions = { seeds: Array.from({ length: Number(opts.seeds) }, (_, i) => i), ...(opts.arms ? { arms: parseArms(opts.arms) } : {}) };
      await withLocalStack(async (client, interrupted) => {
        try {
          await startWorkflowRun('septExperiment', config, { client, extraArgs: [options] });
          console.log(`started septExperiment ${config.name}`);
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          console.log(`rejoined septExperiment ${config.name}, already in flight`);
        }
        const handle = client.workflow.getHandle<typeof septExperiment>(config.name);
        const startedAt = Date.now();
        const result = refreshUntilSettled(
          handle.result(),
          60_000,
          async () => {
            const p = await handle.query(experimentProgressQuery).catch(() => undefined);
            if (p) console.log(`[${Math.round((Date.now() - startedAt) / 1000)} s] ${p.done}/${p.total} trainings done; now: ${p.current}`);
          },
          interrupted,
        );
        const { table, markdown, json } = await explainingFailure(client, { workflowType: 'septExperiment', workflowId: config.name }, result);
        console.log(`\n${table}\n\nresults: ${markdown}\n         ${json}`);
      });
    });
}
