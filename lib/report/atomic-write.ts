import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let sequence = 0;

/** A hidden name beside the target: the rename stays within one file system, and readers never list it. */
const tempBeside = (path: string) => join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${++sequence}`);

async function replace(path: string, fill: (temp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempBeside(path);
  try {
    await fill(temp);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Readers see the old file or the new one, never half of one, so a killed or retried report leaves whole files. */
export function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  return replace(path, (temp) => writeFile(temp, data));
}

export function copyFileAtomic(from: string, to: string): Promise<void> {
  return replace(to, (temp) => copyFile(from, temp));
}
