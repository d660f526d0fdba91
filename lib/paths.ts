import { dirname, extname, join, resolve } from 'node:path';

/** '.ts' when this code runs from its sources (through tsx: development, tests), '.js' from the build. */
const MODULE_EXTENSION = extname(__filename);
export const runsFromSource = MODULE_EXTENSION === '.ts';

/** Where this code's modules are: the repository root for the sources, dist/ for the build. */
const codeRoot = resolve(__dirname, '..');

/** The package root: the reference trainer, the Temporal CLI, the schema and the demo data live under it. */
export const projectRoot = runsFromSource ? codeRoot : dirname(codeRoot);

/** The file of one of this package's modules (`workers/cpu`), in the form this code runs from. */
export function moduleFile(module: string): string {
  return join(codeRoot, module + MODULE_EXTENSION);
}

/** Node's arguments that run one of this package's modules in a new process: the build as is, the sources through tsx. */
export function moduleArgs(module: string): string[] {
  return runsFromSource ? ['--import', 'tsx', moduleFile(module)] : [moduleFile(module)];
}

/** Where data, LanceDB tables and run outputs go: relative paths in a run configuration are under it (lib/storage/access.ts). */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.SEPT_DATA_DIR ?? join(projectRoot, 'data'));
}
