import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after } from 'node:test';
import { dataDir } from '../../lib/paths';

/**
 * A temporary folder removed when the test file ends, by default under the data dir
 * (`<SEPT_DATA_DIR>/tmp`): the root where a worker lets runs read and write
 * (lib/storage/access.ts), as a run's own files are.
 */
export function tempDir(prefix = 'septflow-', parent = join(dataDir(), 'tmp')): string {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under a folder (none if it does not exist), relative to it: what a worker left there. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}
