import { type Connection, connect } from '@lancedb/lancedb';
import { resolveDataPath } from '../paths';

const connections = new Map<string, Promise<Connection>>();

/** The LanceDB store of a run (a local folder under the data dir, or s3://…), one connection per process. */
export function openStore(uri: string): Promise<Connection> {
  const resolved = resolveDataPath(uri);
  let connection = connections.get(resolved);
  if (!connection) {
    connection = connect(resolved);
    connections.set(resolved, connection);
    // A store that was unreachable is retried on the next call, not remembered as failed.
    connection.catch(() => connections.delete(resolved));
  }
  return connection;
}
