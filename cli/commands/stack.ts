import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { startDevServer } from '../../infra/dev-server';
import { type WorkerKind, startLocalStack } from '../../infra/local-stack';
import { dataDir } from '../../lib/paths';
import { connectClient } from '../../lib/temporal/connection';
import { runWorker } from '../../workers/worker';

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM). */
export function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export const devServerDb = () => join(dataDir(), 'temporal', 'dev.sqlite');

/**
 * Runs `job` against a local Temporal dev server (started, or reused when one answers on the
 * default port) and both workers, then stops what it started, also on Ctrl-C. A run interrupted
 * this way stays in the server's SQLite file; the next start rejoins it.
 */
export async function withLocalStack(job: (client: Client, interrupted: Promise<never>) => Promise<void>): Promise<void> {
  const logDir = join(dataDir(), 'logs');
  console.log(`starting Temporal dev server and workers (logs in ${logDir})...`);
  const stack = await startLocalStack({ dbFile: devServerDb(), logFile: join(logDir, 'temporal.log'), logDir, reuseServer: true });
  const interrupted = untilInterrupted().then((signal) => {
    throw new Error(`interrupted by ${signal}; the run goes on when the stack starts again`);
  });
  interrupted.catch(() => undefined);
  try {
    process.env.TEMPORAL_ADDRESS = stack.address;
    process.env.TEMPORAL_UI_URL ??= stack.uiUrl;
    const client = await connectClient();
    try {
      await job(client, interrupted);
    } finally {
      await client.connection.close();
    }
  } finally {
    await stack.stop();
  }
}

export function registerStack(program: Command): void {
  program
    .command('dev')
    .description('start the Temporal dev server and both workers; Ctrl-C stops all')
    .option('-p, --port <n>', 'gRPC port', '7233')
    .option('--ui-port <n>', 'Web UI port (default: port + 1000)')
    .action(async (opts: { port: string; uiPort?: string }) => {
      const stack = await startLocalStack({
        port: Number(opts.port),
        uiPort: opts.uiPort ? Number(opts.uiPort) : undefined,
        dbFile: devServerDb(),
        logFile: join(dataDir(), 'logs', 'temporal.log'),
        reuseServer: true,
      });
      console.log(`Temporal at ${stack.address}${stack.server ? '' : ' (already running)'}; Web UI: ${stack.uiUrl}`);
      console.log('workers: sept-cpu, sept-gpu. Ctrl-C stops everything.');
      await untilInterrupted();
      await stack.stop();
    });

  program
    .command('server')
    .description('run the Temporal dev server alone (SQLite file under the data dir, Web UI on)')
    .option('-p, --port <n>', 'gRPC port', '7233')
    .option('--ui-port <n>', 'Web UI port (default: port + 1000)')
    .option('--ip <ip>', 'address to bind', '127.0.0.1')
    .action(async (opts: { port: string; uiPort?: string; ip: string }) => {
      const server = await startDevServer({
        port: Number(opts.port),
        uiPort: opts.uiPort ? Number(opts.uiPort) : undefined,
        ip: opts.ip,
        dbFile: devServerDb(),
        logFile: join(dataDir(), 'logs', 'temporal.log'),
      });
      console.log(`Temporal at ${server.address}; Web UI: ${server.uiUrl}; state in ${devServerDb()}. Ctrl-C stops it.`);
      await untilInterrupted();
      await server.stop();
    });

  program
    .command('worker')
    .description('run one worker (connection from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS or API key settings)')
    .requiredOption('-q, --queue <kind>', 'cpu (workflows, embedding, retrieval) or gpu (training)')
    .action(async (opts: { queue: string }) => {
      if (opts.queue !== 'cpu' && opts.queue !== 'gpu') throw new Error(`--queue must be cpu or gpu, not ${opts.queue}`);
      await runWorker(opts.queue as WorkerKind);
    });
}
