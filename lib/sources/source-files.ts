// A source's files (tar shards, manifests, images) are local paths or objects in a bucket
// (`s3://bucket/key`); this is the one way the sources read either.
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { FileRefusedError, notRegular, openRegularFile, regularFileStream } from '../files/regular-file';
import { count } from '../format';
import { isObjectUri, ObjectStore } from '../object-store';
import { allowedLocation } from '../storage/access';
import { SourceError } from './shard-ref';

/** A local file's content version: its size and modification time, which a rewrite changes. */
export const localVersion = (file: { size: number; mtimeMs: number }) => `${file.size}-${file.mtimeMs}`;

/** The version of one local file, as listings record it. */
export async function localFileVersion(path: string): Promise<{ bytes: number; version: string }> {
  const file = await stat(path);
  const refusal = notRegular(path, file);
  if (refusal) throw new SourceError(refusal);
  return { bytes: file.size, version: localVersion(file) };
}

export interface SourceRead {
  /** For an object, its ETag as listed: the read fails rather than return another version. Local files are read as they are. */
  version?: string;
  /** Bytes [start, end); the whole file by default. */
  start?: number;
  end?: number;
  /** A file (or range) larger than this is refused unread, FileRefusedError 'too-large' (for images: SEPT_MAX_MEMBER_BYTES). */
  maxBytes?: number;
}

const tooLarge = (path: string, max: number, size?: number) =>
  new FileRefusedError('too-large', `${path} is ${size === undefined ? '' : `${count(size)} bytes: `}over the ${count(max)} bytes a file may have (SEPT_MAX_MEMBER_BYTES)`);

/**
 * Shards travel in workflow arguments, which anyone who can start a workflow writes: each file is
 * let through the door (lib/storage/access.ts) where it is read, not only where it was listed.
 */
const readable = (path: string) => allowedLocation('source file', path, 'read');

/** A source file as a stream of its bytes; an object is streamed as it arrives, resumed where it breaks. */
export function streamSourceFile(path: string, read: SourceRead = {}): Readable {
  path = readable(path);
  if (!isObjectUri(path)) return regularFileStream(path, { start: read.start, end: read.end === undefined ? undefined : read.end - 1, highWaterMark: 1 << 20 });
  const { store, key } = ObjectStore.at(path);
  return Readable.from(store.read(key, { etag: read.version, start: read.start, end: read.end }), { objectMode: false });
}

/** A source file (or a byte range of it) in memory: manifests, single images. */
export async function readSourceFile(path: string, read: SourceRead = {}): Promise<Buffer> {
  path = readable(path);
  const max = read.maxBytes ?? Infinity;
  if (isObjectUri(path)) {
    if (read.end !== undefined && read.end <= (read.start ?? 0)) return Buffer.alloc(0);
    const { store, key } = ObjectStore.at(path);
    const chunks: Buffer[] = [];
    let length = 0;
    // Counted as it arrives: a HEAD per image would cost a round trip where there is nothing to refuse.
    for await (const chunk of store.read(key, { etag: read.version, start: read.start, end: read.end })) {
      length += chunk.length;
      if (length > max) throw tooLarge(path, max);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, length);
  }
  const { file, info } = await openRegularFile(path);
  try {
    const start = read.start ?? 0;
    const length = Math.max(0, Math.min(read.end ?? info.size, info.size) - start);
    if (length > max) throw tooLarge(path, max, length);
    const out = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await file.read(out, filled, length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return out.subarray(0, filled);
  } finally {
    await file.close();
  }
}
