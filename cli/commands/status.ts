import type { Command } from 'commander';
import { connectClient } from '../../lib/temporal/connection';

export function registerStatus(program: Command): void {
  program
    .command('status <workflowId>')
    .description('show a workflow: its state, and its result or failure')
    .action(async (workflowId: string) => {
      const client = await connectClient();
      try {
        const handle = client.workflow.getHandle(workflowId);
        const info = await handle.describe();
        console.log(`${info.type} ${workflowId}: ${info.status.name}`);
        console.log(`started ${info.startTime.toISOString()}${info.closeTime ? `, closed ${info.closeTime.toISOString()}` : ''}`);
        if (info.status.name === 'COMPLETED') console.log(JSON.stringify(await handle.result(), null, 2));
        if (info.status.name === 'FAILED') {
          await handle.result().catch((err: Error) => console.log(`failure: ${(err.cause as Error | undefined)?.message ?? err.message}`));
        }
      } finally {
        await client.connection.close();
      }
    });
}
