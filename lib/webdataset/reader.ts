import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ObjectStoreError } from '../object-store';
import { type Sample, splitMemberName } from './sample';
import { BLOCK, decodeHeader, isZeroBlock, paddedSize, paxPath } from './tar-format';

/** A shard that is truncated or corrupt; names the shard and the byte offset where reading failed. */
export class ShardFormatError extends Error {
  constructor(
    readonly shard: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`shard ${shard}: ${reason} at byte offset ${offset}`);
    this.name = 'ShardFormatError';
  }
}

/** Pulls exact byte counts out of a stream of chunks. */
class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private readonly chunks: AsyncIterator<Buffer>;
  private done = false;
  /** Bytes consumed so far: the tar offset of the next read. */
  offset = 0;

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length - this.pos < n && !this.done) {
      const next = await this.chunks.next();
      if (next.done) this.done = true;
      else {
        this.buf = this.pos === this.buf.length ? next.value : Buffer.concat([this.buf.subarray(this.pos), next.value]);
        this.pos = 0;
      }
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += out.length;
    this.offset += out.length;
    return out;
  }

  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

function openShard(shard: string, bytes: Readable): Readable {
  if (!/\.(tar\.gz|tgz)$/i.test(shard)) return bytes;
  const gunzip = createGunzip();
  bytes.on('error', (err) => gunzip.destroy(err));
  return bytes.pipe(gunzip);
}

/**
 * Streams the samples of a WebDataset shard (`.tar`, `.tar.gz`) named `shard`, from `bytes` (a
 * stream of the stored file, which may be an object in a bucket) or else from the local file. A
 * sample is yielded only once all its members are read, so a truncated or corrupt shard throws
 * ShardFormatError and never yields a half sample. For gzip shards, offsets count decompressed
 * bytes. A store that cannot be reached right now is no fault of the shard: its error passes as is.
 */
export async function* readShard(shard: string, bytes?: Readable): AsyncGenerator<Sample> {
  const source = new ByteSource(openShard(shard, bytes ?? createReadStream(shard, { highWaterMark: 1 << 20 })));
  const fail = (offset: number, reason: string) => new ShardFormatError(shard, offset, reason);
  const unreadable = (offset: number, err: unknown) => (err instanceof ObjectStoreError && err.retryable ? err : fail(offset, `unreadable (${(err as Error).message})`));
  let current: Sample | undefined;
  let longName: string | undefined;
  try {
    for (;;) {
      const headerOffset = source.offset;
      let block: Buffer;
      try {
        block = await source.read(BLOCK);
      } catch (err) {
        throw unreadable(headerOffset, err);
      }
      if (block.length === 0) throw fail(headerOffset, 'truncated: end-of-archive marker missing');
      if (block.length < BLOCK) throw fail(headerOffset, 'truncated inside a header');
      if (isZeroBlock(block)) {
        if (current) yield current;
        return;
      }
      const header = decodeHeader(block);
      if (typeof header === 'string') throw fail(headerOffset, `corrupt: ${header}`);
      const name = header.type === 'pax' || header.type === 'gnu-longname' ? undefined : (longName ?? header.name);
      const member = name !== undefined && header.type === 'file' ? splitMemberName(name) : undefined;
      // A new key completes the previous sample, even if this member turns out truncated.
      if (current && member && current.key !== member.key) {
        yield current;
        current = undefined;
      }
      let data: Buffer;
      try {
        data = await source.read(paddedSize(header.size));
      } catch (err) {
        throw unreadable(source.offset, err);
      }
      if (data.length < header.size) {
        throw fail(headerOffset + BLOCK + data.length, `truncated inside member '${header.name}' (${header.size} bytes)`);
      }
      data = data.subarray(0, header.size);
      if (header.type === 'pax') {
        longName = paxPath(data) ?? longName;
        continue;
      }
      if (header.type === 'gnu-longname') {
        longName = data.toString('utf8').replace(/\0+$/, '');
        continue;
      }
      longName = undefined;
      if (!member) continue;
      current ??= { key: member.key, files: {} };
      // Copy out of the chunk so a yielded sample does not pin the whole read buffer.
      current.files[member.ext] = Buffer.from(data);
    }
  } finally {
    await source.close();
  }
}
