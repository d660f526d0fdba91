import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Sample } from './sample';
import { BLOCK, encodeMember } from './tar-format';

/**
 * Writes one WebDataset shard. Output goes to a temporary name and is renamed on close(), so a
 * crash never leaves a half-written shard under its real name. `.tar.gz` paths are gzipped.
 */
export class ShardWriter {
  private readonly tmp: string;
  private readonly file: WriteStream;
  private readonly out: Writable;
  private count = 0;

  private constructor(readonly path: string) {
    this.tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.file = createWriteStream(this.tmp);
    if (/\.(tar\.gz|tgz)$/i.test(path)) {
      const gzip = createGzip();
      gzip.pipe(this.file);
      this.out = gzip;
    } else {
      this.out = this.file;
    }
  }

  static async create(path: string): Promise<ShardWriter> {
    await mkdir(dirname(path), { recursive: true });
    return new ShardWriter(path);
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
    await new Promise<void>((resolve, reject) => {
      this.file.once('error', reject);
      this.file.once('close', resolve);
      this.out.end();
    });
    await rename(this.tmp, this.path);
  }

  /** Drops the temporary file without producing a shard. */
  async abort(): Promise<void> {
    this.out.destroy();
    await rm(this.tmp, { force: true });
  }

  private push(chunk: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
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
