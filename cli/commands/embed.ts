import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Command } from 'commander';
import { explainingFailure } from '../../lib/client/failure';
import { loadRunConfig } from '../../lib/config/load';
import { connectClient, connectConfig, workflowUiUrl } from '../../lib/temporal/connection';
import { CPU_QUEUE } from '../../lib/temporal/queues';
import type { embedPool } from '../../workflows/embed-pool';
import { embedProgressQuery } from '../../workflows/queries';
import { refreshUntilSettled } from '../follow';
import { formatEmbedProgress } from '../progress';

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('embed the pool with the configured encoder into LanceDB (the embedPool stage alone)')
    .requiredOption('-c, --config <file>', 'run configuration (.json, .yaml)')
    .option('--wait', 'follow the progress until the stage ends')
    .action(async (opts: { config: string; wait?: boolean }) => {
      const config = await loadRunConfig(opts.config);
      if (!config.encoder.model) throw new Error(`${opts.config}: encoder.model is not set: name the ONNX image encoder to embed the pool with`);
      const workflowId = `${config.name}/embed`;
      const client = await connectClient();
      try {
        let handle;
        try {
          handle = await client.workflow.start<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId, args: [config] });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) throw new Error(`${workflowId} is already running: \`sept status ${workflowId}\` shows its progress`);
          throw err;
        }
        console.log(`started embedPool ${workflowId}`);
        console.log(workflowUiUrl(connectConfig().namespace, workflowId));
        if (!opts.wait) return;
        const result = refreshUntilSettled(handle.result(), 1000, async () => {
          const progress = await handle.query(embedProgressQuery).catch(() => undefined);
          if (progress) process.stdout.write(`${process.stdout.isTTY ? '\r' : ''}${formatEmbedProgress(progress)}${process.stdout.isTTY ? '' : '\n'}`);
        });
        console.log(`\n${JSON.stringify(await explainingFailure(client, { workflowType: 'embedPool', workflowId }, result), null, 2)}`);
      } finally {
        await client.connection.close();
      }
    });
}
