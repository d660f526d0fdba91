import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { locationIn, PendingLocation } from '../storage/location';
import type { Sample } from './sample';
import { BLOCK, encodeMember } from './tar-format';

/**
 * Writes one WebDataset shard at a location (lib/storage/location.ts). Output goes to a temporary
 * file, renamed or uploaded on close(), so a crash never leaves a half-written shard under its real
 * name. `.tar.gz` paths are gzipped. A full disk or an I/O error (ENOSPC, EIO) fails the write or
 * close under way, retryably, like any error of the file system; it never surfaces as an 'error'
 * event that nobody hears, which would end the whole worker process and every activity on it.
 */
export class ShardWriter {
  private readonly out: Writable;
  /** Settles once the file is written and closed, or with the first error of any stream on the way. */
  private readonly written: Promise<void>;
  private count = 0;

  private constructor(
    readonly path: string,
    private readonly pending: PendingLocation,
  ) {
    const file = createWriteStream(pending.temp);
    if (/\.(tar\.gz|tgz)$/i.test(path)) {
      const gzip = createGzip();
      this.out = gzip;
      this.written = pipeline(gzip, file);
    } else {
      this.out = file;
      this.written = finished(file);
    }
    // Heard here as well, so that a writer abandoned after an error leaves no rejection unhandled.
    this.written.catch(() => undefined);
  }

  static async create(path: string): Promise<ShardWriter> {
    return new ShardWriter(path, await PendingLocation.begin(path));
  }

  get samples(): number {
    return this.count;
  }

  async write(sample: Sample): Promise<void> {
    if (sample.key.includes('.')) throw new RangeError(`sample key must not contain '.': ${sample.key}`);
    const members = Object.entries(sample.files).map(([ext, bytes]) => encodeMember(`${sample.key}.${ext}`, bytes));
    await this.push(Buffer.concat(members));
    this.count++;
  }

  /** Finishes the archive and moves it to its final name. */
  async close(): Promise<void> {
    await this.push(Buffer.alloc(2 * BLOCK));
    this.out.end();
    await this.written;
    await this.pending.commit();
  }

  /** Drops the temporary file without producing a shard. */
  async abort(): Promise<void> {
    this.out.destroy();
    await this.pending.discard();
  }

  /** The file's error may reach no write callback (gzip holds the chunk while the file is gone): it ends the write too. */
  private push(chunk: Buffer): Promise<void> {
    const pushed = new Promise<void>((resolve, reject) => {
      this.out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
    return Promise.race([pushed, this.written.then(() => pushed)]);
  }
}

/** Writes a whole shard from an iterable of samples. */
export async function writeShard(path: string, samples: Iterable<Sample> | AsyncIterable<Sample>): Promise<number> {
  const writer = await ShardWriter.create(path);
  try {
    for await (const sample of samples) await writer.write(sample);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return writer.samples;
}

/** A numbered shard set: its shards in order, and how many samples they hold together. */
export interface ShardSet {
  shards: string[];
  samples: number;
}

/** The name of shard `n` of a numbered set; `n` may be a brace range of numbers as wide. */
const setShardName = (prefix: string, n: number | string) => `${prefix}-${String(n).padStart(6, '0')}.tar`;

/**
 * The first `count` shards of a numbered set as one brace range, `<dir>/<prefix>-{000000..000122}.tar`,
 * which a webdataset source's `shards` names in order (lib/sources/expand.ts): the same few bytes
 * in a payload whatever the count.
 */
export function shardSetRange(dir: string, prefix: string, count: number): string {
  if (count < 1) throw new RangeError(`a shard range names at least one shard, not ${count}`);
  return locationIn(dir, setShardName(prefix, `{${'0'.repeat(6)}..${String(count - 1).padStart(6, '0')}}`));
}

/**
 * Writes a numbered shard set (`dir` a folder or a bucket prefix), `<dir>/<prefix>-000000.tar`, `<prefix>-000001.tar`, …: a new shard
 * every `samplesPerShard` samples, none empty. Each shard appears whole under its name or not at
 * all (ShardWriter); a failure leaves the shards already closed. `first` numbers the first shard:
 * writers of one set's parts, each its own numbers.
 */
export async function writeShardSet(
  dir: string,
  prefix: string,
  samplesPerShard: number,
  samples: Iterable<Sample> | AsyncIterable<Sample>,
  first = 0,
): Promise<ShardSet> {
  const set: ShardSet = { shards: [], samples: 0 };
  let writer: ShardWriter | undefined;
  try {
    for await (const sample of samples) {
      if (!writer) {
        writer = await ShardWriter.create(locationIn(dir, setShardName(prefix, first + set.shards.length)));
        set.shards.push(writer.path);
      }
      await writer.write(sample);
      set.samples++;
      if (writer.samples === samplesPerShard) {
        await writer.close();
        writer = undefined;
      }
    }
    await writer?.close();
  } catch (err) {
    await writer?.abort();
    throw err;
  }
  return set;
}
