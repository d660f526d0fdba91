// The process test/hostile/disk.test.ts starts with `full` on a file system that has no room left:
// each writer there must fail its call with an error Temporal retries, while a sibling task writes
// on a healthy disk and finishes. Nothing here listens for uncaughtException or unhandledRejection:
// a stream error that nobody hears ends this process, which the test sees. Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ApplicationFailure } from '@temporalio/common';
import { failFastOnBadInput } from '../../activities/failures';
import { ObjectCache } from '../../lib/cache/object-cache';
import { writeLocation } from '../../lib/storage/location';
import { readShard } from '../../lib/webdataset/reader';
import type { Sample } from '../../lib/webdataset/sample';
import { writeShard } from '../../lib/webdataset/writer';

const [full, healthy, megabytes] = process.argv.slice(2);
/** Incompressible, so that gzip does not shrink it under the disk's size. */
const BIG = Number(megabytes) * 2 ** 20;

function* bigSamples(): Generator<Sample> {
  for (let i = 0; i * 2 ** 16 < BIG; i++) yield { key: `s${i}`, files: { bin: randomBytes(2 ** 16) } };
}

/** Writes slowly, a turn of the event loop per sample, so that it is under way while the others fail. */
async function* siblingSamples(): AsyncGenerator<Sample> {
  for (let i = 0; i < 400; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    yield { key: `sibling${i}`, files: { txt: Buffer.from(`sample ${i}`) } };
  }
}

async function outcome(write: () => Promise<unknown>) {
  try {
    await failFastOnBadInput(write);
    return { failed: false };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { failed: true, code: e.code ?? (e.cause as NodeJS.ErrnoException | undefined)?.code, message: e.message, retryable: !(err instanceof ApplicationFailure && err.nonRetryable) };
  }
}

async function main() {
  const sibling = writeShard(join(healthy, 'sibling-000000.tar'), siblingSamples());
  const results = {
    tar: await outcome(() => writeShard(join(full, 'shards', 'big-000000.tar'), bigSamples())),
    gzip: await outcome(() => writeShard(join(full, 'shards', 'big-000001.tar.gz'), bigSamples())),
    record: await outcome(() => writeLocation(join(full, 'runs', 'stages', 'embed.json'), randomBytes(BIG).toString('hex'))),
    cache: await outcome(async () => {
      const cache = new ObjectCache({ dir: join(full, 'cache'), maxBytes: 4 * BIG });
      const bytes = randomBytes(BIG);
      await buffer(await cache.read({ uri: 's3://pool/big.tar', version: 'v1', size: bytes.length }, () => Readable.from([bytes])));
    }),
  };
  const siblingWrote = await sibling;
  let siblingRead = 0;
  for await (const sample of readShard(join(healthy, 'sibling-000000.tar'))) if (sample.files.txt.toString() === `sample ${siblingRead}`) siblingRead++;
  const left = readdirSync(full, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  console.log(JSON.stringify({ results, siblingWrote, siblingRead, left }));
}

void main();
