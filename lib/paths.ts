import { isAbsolute, join, resolve } from 'node:path';

/** The repository root: the reference trainer, the Temporal CLI and the demo data live under it. */
export const projectRoot = resolve(__dirname, '..');

/** Where data, LanceDB tables and run outputs go unless a config names absolute paths or URIs. */
export function dataDir(): string {
  return resolve(process.env.SEPT_DATA_DIR ?? join(projectRoot, 'data'));
}

/** Resolves a config path: URIs (s3://…) and absolute paths as given, others under dataDir(). */
export function resolveDataPath(p: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || isAbsolute(p)) return p;
  return join(dataDir(), p);
}
