// A source's files (tar shards, manifests, images) are local paths or objects in a bucket
// (`s3://bucket/key`); this is the one way the sources read either.
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { isObjectUri, ObjectStore } from '../object-store';

/** A local file's content version: its size and modification time, which a rewrite changes. */
export const localVersion = (file: { size: number; mtimeMs: number }) => `${file.size}-${file.mtimeMs}`;

/** The version of one local file, as listings record it. */
export async function localFileVersion(path: string): Promise<{ bytes: number; version: string }> {
  const file = await stat(path);
  return { bytes: file.size, version: localVersion(file) };
}

export interface SourceRead {
  /** For an object, its ETag as listed: the read fails rather than return another version. Local files are read as they are. */
  version?: string;
  /** Bytes [start, end); the whole file by default. */
  start?: number;
  end?: number;
}

/** A source file as a stream of its bytes; an object is streamed as it arrives, resumed where it breaks. */
export function streamSourceFile(path: string, read: SourceRead = {}): Readable {
  if (!isObjectUri(path)) return createReadStream(path, { start: read.start, end: read.end === undefined ? undefined : read.end - 1, highWaterMark: 1 << 20 });
  const { store, key } = ObjectStore.at(path);
  return Readable.from(store.read(key, { etag: read.version, start: read.start, end: read.end }), { objectMode: false });
}

/** A source file (or a byte range of it) in memory: manifests, single images. */
export async function readSourceFile(path: string, read: SourceRead = {}): Promise<Buffer> {
  if (isObjectUri(path)) {
    const { store, key } = ObjectStore.at(path);
    return store.readAll(key, { etag: read.version, start: read.start, end: read.end });
  }
  if (read.start === undefined && read.end === undefined) return readFile(path);
  const file = await open(path);
  try {
    const start = read.start ?? 0;
    const end = read.end ?? (await file.stat()).size;
    const out = Buffer.alloc(Math.max(0, end - start));
    const { bytesRead } = await file.read(out, 0, out.length, start);
    return out.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
