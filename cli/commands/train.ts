import type { Command } from 'commander';
import { loadRunConfig } from '../../lib/config/load';
import { connectConfig, workflowUiUrl } from '../../lib/temporal/connection';
import type { TrainModelOptions } from '../../workflows/train-model';
import { startRun } from './start';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('start trainModel alone: pre-train (on the pool, or given data), fine-tune and evaluate on the target')
    .requiredOption('-c, --config <file>', 'run configuration (.json, .yaml) naming pool and target; {"demo": true} for the demo\'s')
    .option('--pretrain-on <shards>', 'WebDataset shards to pre-train on (folder, glob or brace range); default: the pool')
    .option('--no-pretrain', 'fine-tune from scratch (the no-pre-training baseline)')
    .option('--variant <name>', 'output subfolder, to keep trainings on different data apart', 'main')
    .action(async (opts: { config: string; pretrainOn?: string; pretrain: boolean; variant: string }) => {
      const config = await loadRunConfig(opts.config);
      const options: TrainModelOptions = {
        variant: opts.variant,
        skipPretrain: !opts.pretrain,
        ...(opts.pretrainOn ? { pretrainData: [{ kind: 'webdataset', shards: opts.pretrainOn }] } : {}),
      };
      const { workflowId } = await startRun('trainModel', config, options);
      console.log(`started trainModel ${workflowId}`);
      console.log(workflowUiUrl(connectConfig().namespace, workflowId));
    });
}
