// Where septflow reads a file's bytes (a shard, an image, a manifest, a model, a record), the path
// must name a regular file: a FIFO blocks its reader (and a libuv thread) until someone writes to
// it, /dev/zero never ends, a directory has no bytes. The file is opened non-blocking, so a FIFO is
// refused at once rather than waited on, and checked with fstat, so what is checked is what is read
// even if the name is swapped meanwhile.
import { close, constants, createReadStream, fstat, open as openFd, read, type ReadStream, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** A file whose bytes are not read: not a regular file, or larger than its reader's cap (lib/input-limits.ts). */
export class FileRefusedError extends Error {
  constructor(
    readonly reason: 'not-a-regular-file' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'FileRefusedError';
  }
}

const READ_ONLY = constants.O_RDONLY | constants.O_NONBLOCK;

/** What a path names, for messages: `a FIFO`, `a character device`, … */
function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'a special file';
}

/** Why `info` is no file to read, or undefined for a regular file. */
export function notRegular(path: string, info: Stats): string | undefined {
  return info.isFile() ? undefined : `${path} is ${kindOf(info)}, not a regular file`;
}

/** Opens a regular file for reading; anything else is refused with FileRefusedError 'not-a-regular-file'. */
export async function openRegularFile(path: string): Promise<{ file: FileHandle; info: Stats }> {
  const file = await open(path, READ_ONLY);
  try {
    const info = await file.stat();
    const refusal = notRegular(path, info);
    if (refusal) throw new FileRefusedError('not-a-regular-file', refusal);
    return { file, info };
  } catch (err) {
    await file.close();
    throw err;
  }
}

/** Opens a file descriptor as openRegularFile does, for Node's own file streams. */
function openRegularFd(path: string, _flags: unknown, _mode: unknown, done: (err: Error | null, fd?: number) => void): void {
  openFd(path, READ_ONLY, (err, fd) => {
    if (err) return done(err);
    fstat(fd, (statErr, info) => {
      const refusal = statErr ? undefined : notRegular(path, info);
      if (!statErr && !refusal) return done(null, fd);
      close(fd, () => done(statErr ?? new FileRefusedError('not-a-regular-file', refusal!)));
    });
  });
}

/** A read stream of a regular file; anything else fails the stream with FileRefusedError 'not-a-regular-file'. */
export function regularFileStream(path: string, options: { start?: number; end?: number; highWaterMark?: number } = {}): ReadStream {
  return createReadStream(path, { ...options, fs: { open: openRegularFd, read, close } });
}
