import type { Command } from 'commander';
import { loadRunConfig } from '../../lib/config/load';
import type { RunConfig } from '../../lib/config/schema';
import { startWorkflowRun } from '../../lib/client';
import { connectConfig, workflowUiUrl } from '../../lib/temporal/connection';
import { isWorkflowType, WORKFLOW_TYPES, type WorkflowType } from '../../lib/temporal/workflow-types';

/**
 * Starts a workflow of a validated run; its id is the run name for the pipeline, `<run name>/<type>`
 * for a stage alone. Every workflow takes the run configuration first; `options` follow where a
 * workflow has any (trainModel's, say).
 */
export async function startRun(type: WorkflowType, config: RunConfig, options?: unknown): Promise<{ workflowId: string; runId: string }> {
  const workflowId = type === 'septPipeline' ? config.name : `${config.name}/${type}`;
  const run = await startWorkflowRun(type, config, { workflowId, extraArgs: options === undefined ? [] : [options] });
  await run.close();
  return { workflowId: run.workflowId, runId: run.runId };
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('validate a run configuration and start a workflow on it')
    .requiredOption('-c, --config <file>', 'run configuration (.json, .yaml) naming pool and target; {"demo": true} for the demo\'s')
    .option('-w, --workflow <type>', `workflow type (${WORKFLOW_TYPES.join(', ')})`, 'septPipeline')
    .action(async (opts: { config: string; workflow: string }) => {
      if (!isWorkflowType(opts.workflow)) throw new Error(`unknown workflow type ${opts.workflow}: one of ${WORKFLOW_TYPES.join(', ')}`);
      // Refuse invalid input before anything starts.
      const config = await loadRunConfig(opts.config);
      const { workflowId } = await startRun(opts.workflow, config);
      console.log(`started ${opts.workflow} ${workflowId}`);
      console.log(workflowUiUrl(connectConfig().namespace, workflowId));
    });
}
