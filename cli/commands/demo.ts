import { join } from 'node:path';
import type { Command } from 'commander';
import { startLocalStack } from '../../infra/local-stack';
import type { Census } from '../../lib/census';
import { parseRunConfig } from '../../lib/config/validate';
import { dataDir } from '../../lib/paths';
import { connectClient, workflowUiUrl } from '../../lib/temporal/connection';
import { CPU_QUEUE } from '../../lib/temporal/queues';
import { formatCensus } from '../output';
import { devServerDb, untilInterrupted } from './stack';

/** The main job on the embedded demo: starts what it needs, runs, prints, stops what it started. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the main job on the embedded demo data (what `npm start` does)')
    .action(async () => {
      const logDir = join(dataDir(), 'logs');
      console.log('starting Temporal dev server and workers (logs in ' + logDir + ')...');
      const stack = await startLocalStack({ dbFile: devServerDb(), logFile: join(logDir, 'temporal.log'), logDir, reuseServer: true });
      const interrupted = untilInterrupted().then((signal) => {
        throw new Error(`interrupted by ${signal}`);
      });
      try {
        process.env.TEMPORAL_ADDRESS = stack.address;
        process.env.TEMPORAL_UI_URL ??= stack.uiUrl;
        const config = parseRunConfig({});
        const client = await connectClient();
        try {
          const workflowId = `${config.name}/census-${Date.now()}`;
          const handle = await client.workflow.start('census', { taskQueue: CPU_QUEUE, workflowId, args: [config] });
          console.log(`census of the demo pool: ${workflowUiUrl(stack.namespace, workflowId)}`);
          const census = (await Promise.race([handle.result(), interrupted])) as Census;
          console.log(`\n${formatCensus(census)}\n`);
        } finally {
          await client.connection.close();
        }
      } finally {
        await stack.stop();
      }
    });
}
