// Every file and folder septflow produces appears under its name whole or not at all: it is written
// under a temporary name beside the target, fsynced, renamed, and its folder fsynced, so that not even
// a power cut leaves a named but empty or torn file. Activities run twice (retries, and zombie
// attempts alongside them), and containers that share a volume repeat each other's process ids, so
// temporary names are unique per writer, never `${path}.tmp` nor `${path}.tmp-<pid>`.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * `<pid>-<random>`, unique per writer: 64 random bits keep two writers apart where their pids are
 * alike (every container's first process is pid 1); the pid says which process left a file behind.
 */
export const writerTag = () => `${process.pid}-${randomBytes(8).toString('hex')}`;

/** Hidden (listings skip it), beside the target (the rename stays within one file system), and unique per writer. */
export function tempPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${writerTag()}`);
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename survive a power cut. Best effort: some file systems cannot open or sync a folder. */
const fsyncFolder = (dir: string) => fsync(dir).catch(() => undefined);

/**
 * A file written in steps (a stream that outlives one call) under `temp`, which appears under
 * `path` only on commit(). For a file produced within one call, use produceFileAtomic.
 */
export class PendingFile {
  readonly temp: string;

  private constructor(readonly path: string) {
    this.temp = tempPathBeside(path);
  }

  static async begin(path: string): Promise<PendingFile> {
    await mkdir(dirname(path), { recursive: true });
    return new PendingFile(path);
  }

  /** The bytes reach the disk before the name does, so a crash never leaves a named but empty file. */
  async commit(): Promise<void> {
    try {
      await fsync(this.temp);
      await rename(this.temp, this.path);
    } catch (err) {
      await this.discard();
      throw err;
    }
    await fsyncFolder(dirname(this.path));
  }

  discard(): Promise<void> {
    return rm(this.temp, { force: true });
  }
}

/**
 * Runs `produce` to write the file at a temporary path (sharp's toFile, a download stream, …),
 * then renames it to `path`. On failure nothing is left: no temporary file, no target.
 */
export async function produceFileAtomic<T>(path: string, produce: (temp: string) => Promise<T>): Promise<T> {
  const file = await PendingFile.begin(path);
  try {
    const result = await produce(file.temp);
    await file.commit();
    return result;
  } catch (err) {
    await file.discard();
    throw err;
  }
}

/** Readers see the old file or the new one, never half of one. Concurrent writers each win whole; the last rename stays. */
export function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  return produceFileAtomic(path, (temp) => writeFile(temp, data));
}

export function copyFileAtomic(from: string, to: string): Promise<void> {
  return produceFileAtomic(to, (temp) => copyFile(from, temp));
}

const isTaken = (err: unknown) => ['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '');

/**
 * Builds a folder under a temporary name beside `dir`, then renames it into place. Racers that
 * all finish: the first rename wins and the others discard theirs, so a folder never changes
 * under its readers. A `dir` that `isCurrent` rejects (an older layout, a leftover) is replaced.
 * Returns what `build` returned; a loser's result describes the same content as the winner's
 * only when the build is deterministic, so callers read the winner's folder where it matters.
 */
export async function produceFolderAtomic<T>(dir: string, build: (staging: string) => Promise<T>, isCurrent: (dir: string) => boolean): Promise<T> {
  await mkdir(dirname(dir), { recursive: true });
  const staging = tempPathBeside(dir);
  await mkdir(staging);
  try {
    const result = await build(staging);
    await publishFolder(staging, dir, isCurrent);
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function publishFolder(staging: string, dir: string, isCurrent: (dir: string) => boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(staging, dir);
      await fsyncFolder(dirname(dir));
      return;
    } catch (err) {
      if (!isTaken(err) || attempt === 3) throw err;
    }
    if (isCurrent(dir)) return;
    // Moved aside before deleting, so the rename retried next never meets a half-deleted folder.
    const stale = tempPathBeside(dir);
    await rename(dir, stale).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rm(stale, { recursive: true, force: true });
  }
}
