import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { GPU_QUEUE } from '../temporal/queues';
import type { GangNode } from './gang';

/**
 * This sept-gpu worker as a node of a gang (lib/trainer/gang.ts): the task queue that only it polls
 * (`sept-gpu/<host>-<pid>-<random>`, the usual Temporal way to send work to one host) and the
 * address other nodes reach it at: SEPT_NODE_ADDRESS, else the host name. A worker process serves
 * its own queue once runWorker has opened it; until then it answers no claim.
 */

let opened: Omit<GangNode, 'port'> | undefined;

/** Names this worker's own queue; runWorker then polls it. */
export function openNodeQueue(env: NodeJS.ProcessEnv = process.env): string {
  opened ??= { queue: `${GPU_QUEUE}/${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`, address: env.SEPT_NODE_ADDRESS || hostname() };
  return opened.queue;
}

/** The address this worker was claimed at: where its torchrun is reached. */
export const nodeAddress = (): string | undefined => opened?.address;

/** This worker's answer to a claim, with a port free on its address now; undefined when it serves no queue of its own. */
export async function nodeClaim(): Promise<GangNode | undefined> {
  return opened && { ...opened, port: await freePort(opened.address) };
}

/** A port the system hands out as free on `address`, released at once for torchrun's store to bind. */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
