import type { Command } from 'commander';
import { parseRunConfig } from '../../lib/config/validate';
import { runPipeline } from './run';
import { withLocalStack } from './stack';

/** The main job on the embedded demo: starts what it needs, runs SEPT end to end, prints, stops what it started. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run SEPT end to end on the embedded demo data (what `npm start` does)')
    .action(async () => {
      await withLocalStack((client, interrupted) => runPipeline(client, parseRunConfig({ demo: true }), { interrupted }));
    });
}
