import { Client, Connection } from '@temporalio/client';
import { type ClientConnectConfig, loadClientConnectConfig } from '@temporalio/envconfig';

/**
 * Connection settings from Temporal's standard environment configuration: `TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_CLIENT_CERT_PATH`/`_KEY_PATH`,
 * `TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_SERVER_NAME`, or a profile of
 * `~/.config/temporalio/temporal.toml` (`TEMPORAL_PROFILE`). Same settings for dev server,
 * self-hosted cluster and Temporal Cloud.
 */
export function connectConfig(): ClientConnectConfig & { namespace: string } {
  const config = loadClientConnectConfig();
  config.connectionOptions.address ??= 'localhost:7233';
  return { ...config, namespace: config.namespace ?? 'default' };
}

export async function connectClient(): Promise<Client> {
  const { connectionOptions, namespace } = connectConfig();
  const connection = await Connection.connect(connectionOptions);
  return new Client({ connection, namespace });
}

/** Where the Temporal Web UI shows a workflow; `TEMPORAL_UI_URL` overrides the dev server's default. */
export function workflowUiUrl(namespace: string, workflowId: string): string {
  const base = (process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
