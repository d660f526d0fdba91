import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { getSeptRun, startSeptRun } from '../../lib/client';
import { loadRunConfig } from '../../lib/config/load';
import type { RunConfig } from '../../lib/config/schema';
import { connectClient, connectConfig, workflowUiUrl } from '../../lib/temporal/connection';
import { followPipeline, formatRunResult } from '../pipeline-view';

/** Starts septPipeline for a run (id: the run name), or attaches to the run of that name already in flight. */
export async function startOrAttachPipeline(client: Client, config: RunConfig): Promise<{ handle: WorkflowHandle; attached: boolean }> {
  try {
    return { handle: (await startSeptRun(config, { client })).workflow, attached: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { handle: (await getSeptRun(config.name, { client })).workflow, attached: true };
    throw err;
  }
}

/** Runs (or rejoins) a pipeline, shows its progress, prints the result table. */
export async function runPipeline(client: Client, config: RunConfig, opts: { interrupted?: Promise<never> } = {}): Promise<void> {
  const { handle, attached } = await startOrAttachPipeline(client, config);
  console.log(`${attached ? 'rejoined the run already in flight' : 'started'}: septPipeline ${handle.workflowId}`);
  console.log(workflowUiUrl(connectConfig().namespace, handle.workflowId));
  const result = await followPipeline(client, handle, opts);
  console.log(`\n${formatRunResult(result)}`);
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run SEPT end to end (the septPipeline workflow) on a configuration, and follow it; a run of the same name reuses what is complete')
    .requiredOption('-c, --config <file>', 'run configuration (.json, .yaml) naming pool and target; {"demo": true} for the demo\'s')
    .option('--no-wait', 'start the run and return')
    .action(async (opts: { config: string; wait: boolean }) => {
      const config = await loadRunConfig(opts.config);
      const client = await connectClient();
      try {
        if (opts.wait) return await runPipeline(client, config);
        const { handle, attached } = await startOrAttachPipeline(client, config);
        console.log(`${attached ? 'already running' : 'started'}: septPipeline ${handle.workflowId}`);
        console.log(workflowUiUrl(connectConfig().namespace, handle.workflowId));
      } finally {
        await client.connection.close();
      }
    });
}
