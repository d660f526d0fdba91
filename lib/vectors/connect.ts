import { type Connection, connect } from '@lancedb/lancedb';
import { allowedLocation } from '../storage/access';

const connections = new Map<string, Promise<Connection>>();

/**
 * Storage options LanceDB does not take from the environment by itself. For s3:// it already
 * reads every variable named like an object_store S3 key (AWS_ENDPOINT_URL or AWS_ENDPOINT,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ALLOW_HTTP), and
 * falls back to the AWS credential chain. Missing: plain-http endpoints (MinIO, moto, a local
 * Ceph) are refused unless allowed, and AWS_ENDPOINT_URL_S3, the AWS SDKs' per-service endpoint.
 */
export function storageOptionsFromEnv(uri: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (!/^s3:\/\//i.test(uri)) return {};
  const options: Record<string, string> = {};
  if (env.AWS_ENDPOINT_URL_S3) options.aws_endpoint = env.AWS_ENDPOINT_URL_S3;
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? env.AWS_ENDPOINT;
  if (endpoint?.toLowerCase().startsWith('http://') && env.AWS_ALLOW_HTTP === undefined) options.allow_http = 'true';
  return options;
}

/** Where a run's `store.uri` is: a local folder (relative: under the data dir) or s3://…, where this worker lets runs write. */
export const storeLocation = (uri: string) => allowedLocation('store.uri', uri, 'write');

/** The LanceDB store of a run, one connection per process. */
export function openStore(uri: string): Promise<Connection> {
  const resolved = storeLocation(uri);
  let connection = connections.get(resolved);
  if (!connection) {
    const storageOptions = storageOptionsFromEnv(resolved);
    connection = Object.keys(storageOptions).length > 0 ? connect(resolved, { storageOptions }) : connect(resolved);
    connections.set(resolved, connection);
    // A store that was unreachable is retried on the next call, not remembered as failed.
    connection.catch(() => connections.delete(resolved));
  }
  return connection;
}
