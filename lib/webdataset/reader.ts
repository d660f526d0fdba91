import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { regularFileStream } from '../files/regular-file';
import { count } from '../format';
import { type InputLimits, inputLimits } from '../input-limits';
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

const EMPTY = Buffer.alloc(0);

/** Pulls exact byte counts out of a stream of chunks, copying each byte at most once. */
class ByteSource {
  /** The chunk being read, from `pos`. */
  private buf: Buffer = EMPTY;
  private pos = 0;
  private readonly chunks: AsyncIterator<Buffer>;
  private done = false;
  /** Bytes consumed so far: the tar offset of the next read. */
  offset = 0;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.chunks = chunks[Symbol.asyncIterator]();
  }

  private async next(): Promise<Buffer | undefined> {
    if (this.done) return undefined;
    const next = await this.chunks.next();
    if (next.done) this.done = true;
    return next.done ? undefined : next.value;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    let out: Buffer;
    if (this.buf.length - this.pos >= n) {
      out = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
    } else {
      // Gathered and joined once: joining per chunk would copy a large member over and over.
      const parts = [this.buf.subarray(this.pos)];
      let have = parts[0].length;
      this.buf = EMPTY;
      this.pos = 0;
      for (let chunk = await this.next(); chunk; chunk = have < n ? await this.next() : undefined) {
        const take = Math.min(chunk.length, n - have);
        parts.push(take === chunk.length ? chunk : chunk.subarray(0, take));
        this.buf = chunk;
        this.pos = take;
        have += take;
      }
      out = Buffer.concat(parts, have);
    }
    this.offset += out.length;
    return out;
  }

  /** Passes over n bytes without holding them; returns how many there were (fewer only at the end). */
  async skip(n: number): Promise<number> {
    let skipped = Math.min(n, this.buf.length - this.pos);
    this.pos += skipped;
    for (let chunk = skipped < n ? await this.next() : undefined; chunk; chunk = skipped < n ? await this.next() : undefined) {
      const take = Math.min(chunk.length, n - skipped);
      this.buf = chunk;
      this.pos = take;
      skipped += take;
    }
    this.offset += skipped;
    return skipped;
  }

  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

/** Inflated bytes a gzip shard may produce before its ratio counts: a small archive of zero padding inflates far beyond any ratio. */
const GZIP_ALLOWANCE = 1 << 20;

/**
 * A gzip shard's bytes inflated as they stream, never more than `ratio` times the compressed bytes
 * read (plus a small allowance): a decompression bomb fails the shard after a bounded amount of
 * work, not after it filled memory or a worker's hour.
 */
async function* inflated(shard: string, bytes: Readable, ratio: number): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  bytes.on('error', (err) => gunzip.destroy(err));
  let out = 0;
  try {
    for await (const chunk of bytes.pipe(gunzip) as AsyncIterable<Buffer>) {
      out += chunk.length;
      if (out > ratio * gunzip.bytesWritten + GZIP_ALLOWANCE) {
        throw new ShardFormatError(shard, out, `gzip inflates past ${ratio} times its compressed size (SEPT_MAX_GZIP_RATIO): a decompression bomb`);
      }
      yield chunk;
    }
  } finally {
    // Piping does not end the source when its reader stops early: close the file or the GET here.
    bytes.destroy();
  }
}

/** Entry types that are members of a sample; links and special files only ever to refuse it. */
const MEMBER_TYPES = new Set(['file', 'hardlink', 'symlink', 'device', 'fifo']);

/** A member name that would leave the folder it is extracted into: a leading `/` or a `..` segment. */
const UNSAFE_NAME = /^\/|(^|\/)\.\.(\/|$)/;

/**
 * Streams the samples of a WebDataset shard (`.tar`, `.tar.gz`) named `shard`, from `bytes` (a
 * stream of the stored file, which may be an object in a bucket) or else from the local file. A
 * sample is yielded only once all its members are read, so a truncated or corrupt shard throws
 * ShardFormatError and never yields a half sample. For gzip shards, offsets count decompressed
 * bytes. A store that cannot be reached right now is no fault of the shard: its error passes as is.
 *
 * Work per input is bounded (lib/input-limits.ts): a member or long-name header over its cap, a
 * link or special-file member and an unsafe member name are passed over unread and mark their
 * sample `refused` with the reason; a gzip shard that inflates past its ratio cap fails.
 */
export async function* readShard(shard: string, bytes?: Readable, limits: InputLimits = inputLimits()): AsyncGenerator<Sample> {
  const raw = bytes ?? regularFileStream(shard, { highWaterMark: 1 << 20 });
  const source = new ByteSource(/\.(tar\.gz|tgz)$/i.test(shard) ? inflated(shard, raw, limits.gzipRatio) : raw);
  const fail = (offset: number, reason: string) => new ShardFormatError(shard, offset, reason);
  const unreadable = (offset: number, err: unknown) =>
    err instanceof ShardFormatError || (err instanceof ObjectStoreError && err.retryable) ? err : fail(offset, `unreadable (${(err as Error).message})`);
  let current: Sample | undefined;
  let longName: string | undefined;
  /** Why the next member's name is unknown: its long-name header was over the cap. */
  let oversizedName: string | undefined;
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

      // Whether this header's data is read (a long name within its cap, a member's bytes) or passed over.
      let wanted: boolean;
      let member: { key: string; ext: string } | undefined;
      if (header.type === 'pax' || header.type === 'gnu-longname') {
        wanted = header.size <= limits.paxHeaderBytes;
        if (!wanted) {
          longName = undefined;
          oversizedName = `its ${header.type === 'pax' ? 'PAX' : 'GNU long-name'} header is ${count(header.size)} bytes, over the ${count(limits.paxHeaderBytes)} a header may have (SEPT_MAX_PAX_HEADER_BYTES)`;
        }
      } else {
        const name = longName ?? header.name;
        const nameRefused = oversizedName;
        longName = undefined;
        oversizedName = undefined;
        member = MEMBER_TYPES.has(header.type) ? splitMemberName(name) : undefined;
        if (member) {
          // A new key completes the previous sample, even if this member turns out truncated.
          if (current && current.key !== member.key) {
            yield current;
            current = undefined;
          }
          current ??= { key: member.key, files: {} };
          const refused: Sample['refused'] = nameRefused
            ? { reason: 'too-large', detail: `member ${name}: ${nameRefused}` }
            : header.type !== 'file'
              ? { reason: 'not-a-regular-file', detail: `member ${name} is a ${header.type}, not a regular file: links and special files in a shard are never followed` }
              : UNSAFE_NAME.test(name)
                ? { reason: 'unsafe-name', detail: `member name ${JSON.stringify(name)} leaves the archive's folder (a '..' segment or a leading '/')` }
                : header.size > limits.memberBytes
                  ? { reason: 'too-large', detail: `member ${name} is ${count(header.size)} bytes, over the ${count(limits.memberBytes)} a member may have (SEPT_MAX_MEMBER_BYTES)` }
                  : undefined;
          if (refused) current.refused ??= refused;
          wanted = !refused;
        } else wanted = false;
      }

      const dataOffset = source.offset;
      let data: Buffer | undefined;
      let got: number;
      try {
        if (wanted) got = (data = await source.read(paddedSize(header.size))).length;
        else got = await source.skip(paddedSize(header.size));
      } catch (err) {
        throw unreadable(source.offset, err);
      }
      if (got < header.size) throw fail(dataOffset + got, `truncated inside member '${header.name}' (${header.size} bytes)`);
      if (!data) continue;
      data = data.subarray(0, header.size);
      if (header.type === 'pax') longName = paxPath(data) ?? longName;
      else if (header.type === 'gnu-longname') longName = data.toString('utf8').replace(/\0+$/, '');
      // Copied out of the chunk so a yielded sample does not pin the whole read buffer.
      else current!.files[member!.ext] = Buffer.from(data);
    }
  } finally {
    await source.close();
  }
}
