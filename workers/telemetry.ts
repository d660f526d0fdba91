import { Runtime } from '@temporalio/worker';
import { log } from '../lib/log';
import { PinoTemporalLogger } from '../lib/temporal/logger';
import type { QueueKind } from './worker';

/**
 * Where the worker serves Prometheus metrics: `SEPT_METRICS_ADDRESS` (host:port) as given, or
 * `SEPT_METRICS_PORT` on all interfaces (a scraper runs on another machine); none when both are unset.
 */
export function metricsBindAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const address = env.SEPT_METRICS_ADDRESS?.trim();
  if (address) {
    if (!/^(\[[0-9a-f:.]+\]|[^\s:]+):\d{1,5}$/i.test(address)) throw new Error(`SEPT_METRICS_ADDRESS=${address}: expected host:port, e.g. 0.0.0.0:9464`);
    return address;
  }
  const port = env.SEPT_METRICS_PORT?.trim();
  if (!port) return undefined;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new Error(`SEPT_METRICS_PORT=${port}: expected a port number`);
  return `0.0.0.0:${port}`;
}

/**
 * Installs the process's Temporal runtime: SDK logs (and activity/workflow context logs, with their
 * workflow id, activity type, attempt...) into pino; SDK and septflow metrics on a Prometheus
 * endpoint at `/metrics` when configured. Must run before the first connection is made.
 */
export function installRuntime(kind: QueueKind): Runtime {
  const bindAddress = metricsBindAddress();
  const runtime = Runtime.install({
    logger: new PinoTemporalLogger(log.child({ queue: kind })),
    ...(bindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress } } } } : {}),
  });
  if (bindAddress) log.info({ queue: kind, metrics: `http://${bindAddress}/metrics` }, 'serving Prometheus metrics');
  return runtime;
}
