import { defaultPayloadConverter } from '@temporalio/common';
import type { Command } from 'commander';
import { explainingFailure } from '../../lib/client/failure';
import { connectClient } from '../../lib/temporal/connection';
import type { TrainerHeartbeat } from '../../lib/trainer/heartbeat';
import { embedProgressQuery, pipelineProgressQuery, trainProgressQuery } from '../../workflows/queries';
import { renderPipeline } from '../pipeline-view';
import { formatEmbedProgress, formatTrainProgress } from '../progress';

/** Closed states whose result() rejects: the failure chain is printed for each. */
const ENDED_WITHOUT_RESULT = new Set(['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

export function registerStatus(program: Command): void {
  program
    .command('status <workflowId>')
    .description('show a workflow: its state, its progress while it runs, and its result or failure')
    .action(async (workflowId: string) => {
      const client = await connectClient();
      try {
        const handle = client.workflow.getHandle(workflowId);
        const info = await handle.describe();
        console.log(`${info.type} ${workflowId}: ${info.status.name}`);
        console.log(`started ${info.startTime.toISOString()}${info.closeTime ? `, closed ${info.closeTime.toISOString()}` : ''}`);
        if (info.status.name === 'RUNNING' && info.type === 'septPipeline') {
          const progress = await handle.query(pipelineProgressQuery).catch(() => undefined);
          console.log(progress ? (await renderPipeline(client, progress)).join('\n') : 'progress: no worker answers the query yet');
        }
        if (info.status.name === 'RUNNING' && info.type === 'embedPool') {
          const progress = await handle.query(embedProgressQuery).catch(() => undefined);
          console.log(progress ? formatEmbedProgress(progress) : 'progress: no worker answers the query yet');
        }
        if (info.status.name === 'RUNNING' && info.type === 'trainModel') {
          const progress = await handle.query(trainProgressQuery).catch(() => undefined);
          // Live step, loss and speed are the running trainer activity's heartbeat, not workflow state.
          const details = info.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
          const beat = details ? defaultPayloadConverter.fromPayload<TrainerHeartbeat>(details) : undefined;
          console.log(progress ? formatTrainProgress(progress, beat) : 'progress: no worker answers the query yet');
        }
        if (info.status.name === 'COMPLETED') console.log(JSON.stringify(await handle.result(), null, 2));
        if (ENDED_WITHOUT_RESULT.has(info.status.name)) {
          await explainingFailure(client, { workflowType: info.type, workflowId }, handle.result()).catch((err: Error) => console.log(err.message));
        }
      } finally {
        await client.connection.close();
      }
    });
}
