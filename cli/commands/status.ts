import type { Command } from 'commander';
import { connectClient } from '../../lib/temporal/connection';
import type { EmbedProgress } from '../../workflows/embed-progress';

/** `[#########-----------]  45%  450/1000 shards  448,512 embedded  12 quarantined  3,120 images/s` */
export function formatEmbedProgress(p: EmbedProgress, width = 30): string {
  const fraction = p.shardsTotal > 0 ? p.shardsDone / p.shardsTotal : 0;
  const filled = Math.round(fraction * width);
  const n = (v: number) => v.toLocaleString('en-US');
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%  ${n(p.shardsDone)}/${n(p.shardsTotal)} shards  ${n(p.samplesEmbedded)} embedded  ${n(p.quarantined)} quarantined  ${n(p.imagesPerSecond)} images/s`;
}

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
        if (info.status.name === 'RUNNING' && info.type === 'embedPool') {
          const progress = await handle.query<EmbedProgress>('progress').catch(() => undefined);
          console.log(progress ? formatEmbedProgress(progress) : 'progress: no worker answers the query yet');
        }
        if (info.status.name === 'COMPLETED') console.log(JSON.stringify(await handle.result(), null, 2));
        if (info.status.name === 'FAILED') {
          await handle.result().catch((err: Error) => console.log(`failure: ${(err.cause as Error | undefined)?.message ?? err.message}`));
        }
      } finally {
        await client.connection.close();
      }
    });
}
