import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { produceFileAtomic } from './files/atomic-write';
import { log } from './log';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';

/** `s3://bucket` or `s3://bucket/prefix`: what `trainer.checkpointUri` accepts. */
export const S3_URI = /^s3:\/\/([^/\s]+)(?:\/(\S*))?$/i;

/** Whether a source path names an object in a bucket rather than a local file. */
export const isObjectUri = (path: string) => /^s3:\/\//i.test(path);

/**
 * A storage failure that names the URI. `retryable`: the store did not answer, or answered with
 * a transient error (network, 5xx, throttling). Otherwise the configuration is wrong (no such
 * bucket, refused credentials, a wrong endpoint or region): retrying cannot help.
 */
export class ObjectStoreError extends Error {
  constructor(
    message: string,
    readonly uri: string,
    readonly retryable: boolean,
    /** An answer about the object itself rather than the store: it is not there, or no longer the version being read. */
    readonly problem?: 'no-such-object' | 'changed',
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

/**
 * The S3 client configuration from the standard AWS variables, read the way LanceDB's store reads
 * them (lib/vectors/connect.ts): endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS_ENDPOINT;
 * region from AWS_REGION or AWS_DEFAULT_REGION (us-east-1 otherwise); credentials from the SDK's
 * default chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, profiles, instance
 * roles); AWS_MAX_ATTEMPTS. A custom endpoint (MinIO, moto, Ceph) gets path-style addressing unless
 * AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true.
 */
export function s3ClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? env.AWS_ENDPOINT;
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: env.AWS_VIRTUAL_HOSTED_STYLE_REQUEST?.toLowerCase() !== 'true' } : {}),
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } }
      : {}),
    ...(env.AWS_MAX_ATTEMPTS ? { maxAttempts: Number(env.AWS_MAX_ATTEMPTS) } : {}),
    // A black-holed endpoint fails within seconds instead of hanging an activity; big uploads may take long, idle sockets may not.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    // The SDK's warnings as log lines, not bare console output; its errors reach callers as ObjectStoreError.
    logger: { debug: () => {}, info: () => {}, warn: (...m: unknown[]) => log.warn({ component: 's3' }, m.join(' ')), error: () => {} },
  };
}

const clients = new Map<string, S3Client>();

function clientFor(env: NodeJS.ProcessEnv): S3Client {
  const config = s3ClientConfigFromEnv(env);
  const id = JSON.stringify([config.region, config.endpoint, config.forcePathStyle, config.credentials, config.maxAttempts, env.AWS_PROFILE]);
  let client = clients.get(id);
  if (!client) clients.set(id, (client = new S3Client(config)));
  return client;
}

interface SdkError extends Error {
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function storeError(err: unknown, what: string, uri: string): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const e = err as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const cause = `${e.code ?? e.name}: ${e.message}`;
  if (e.name === 'NoSuchKey' || (status === 404 && e.name === 'NotFound')) return new ObjectStoreError(`object storage ${uri}: no such object (${what})`, uri, false, 'no-such-object');
  if (status === 412) return new ObjectStoreError(`object storage ${uri}: the object changed while it was read (${what}: ${cause})`, uri, false, 'changed');
  // A host name that does not resolve is a wrong endpoint; a refused or silent one may be a store that is briefly down.
  if (e.code === 'ENOTFOUND') return new ObjectStoreError(`object storage ${uri}: ${what} failed, the endpoint's host does not resolve (${cause}); check AWS_ENDPOINT_URL`, uri, false);
  // Redirects (wrong region) and 4xx other than timeouts and throttling are answers about the configuration.
  const misconfigured = e.name === 'CredentialsProviderError' || (status !== undefined && status >= 300 && status < 500 && status !== 408 && status !== 429);
  if (misconfigured) {
    return new ObjectStoreError(
      `object storage ${uri}: ${what} refused (${cause}); check the bucket, the credentials and AWS_ENDPOINT_URL / AWS_REGION`,
      uri,
      false,
    );
  }
  // Nothing listens at the address: a store restarting, or an endpoint that names the wrong port or host.
  const hint = e.code === 'ECONNREFUSED' ? ', check AWS_ENDPOINT_URL if it lasts' : '';
  return new ObjectStoreError(`object storage ${uri} unreachable: ${what} failed (${cause}); retryable${hint}`, uri, true);
}

/** Files under one `s3://bucket/prefix`; keys are relative to the prefix, `/`-separated. */
export class ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  /**
   * Attempts of each request on top of the SDK's own (it retries neither streamed uploads nor a
   * body that breaks mid-stream, and keeps quiet about what it retries): as often as the SDK would.
   */
  private readonly attempts: number;

  constructor(
    readonly uri: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const match = S3_URI.exec(uri);
    if (!match) throw new ObjectStoreError(`object storage ${uri}: not an s3://bucket/prefix URI`, uri, false);
    this.bucket = match[1];
    this.prefix = (match[2] ?? '').replace(/\/+$/, '');
    this.client = clientFor(env);
    this.attempts = Number(env.AWS_MAX_ATTEMPTS ?? 3);
  }

  /** The store of the bucket of an `s3://bucket/key` URI, and the key. */
  static at(uri: string, env: NodeJS.ProcessEnv = process.env): { store: ObjectStore; key: string } {
    // Keys may hold any character, spaces included (photo folders do).
    const match = /^s3:\/\/([^/\s]+)(?:\/(.*))?$/s.exec(uri);
    if (!match) throw new ObjectStoreError(`object storage ${uri}: not an s3://bucket/key URI`, uri, false);
    return { store: new ObjectStore(`s3://${match[1]}`, env), key: match[2] ?? '' };
  }

  /** A request, again with backoff while the store is unreachable or throttles, each retry logged; other failures at once. */
  private async retrying<T>(what: string, uri: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (err) {
        const failure = storeError(err, what, uri);
        if (!failure.retryable || attempt >= this.attempts) throw failure;
        log.warn({ component: 's3', uri, attempt }, `${failure.message}: attempt ${attempt + 1} of ${this.attempts} in ${attempt} s`);
        await sleep(1000 * attempt);
      }
    }
  }

  private objectKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** The `s3://` URI of a key. */
  uriOf(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  /** Uploads a local file (one PUT: S3 shows the object only once it is complete). */
  async put(file: string, key: string): Promise<void> {
    const { size } = await stat(file);
    await this.retrying(`uploading ${file}`, this.uriOf(key), () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: createReadStream(file), ContentLength: size })),
    );
  }

  /** Writes bytes as one object (one PUT): readers see the old object or the new one, never part of one. */
  async write(key: string, body: string | Uint8Array): Promise<void> {
    await this.retrying('writing', this.uriOf(key), () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: body })));
  }

  /**
   * Downloads a key to a local file through a temporary name and a rename, so the file is whole
   * or absent. False when there is no such object.
   */
  async get(key: string, file: string): Promise<boolean> {
    try {
      await produceFileAtomic(file, async (temp) => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
        await pipeline(res.Body as Readable, createWriteStream(temp));
      });
      return true;
    } catch (err) {
      if ((err as SdkError).name === 'NoSuchKey') return false;
      throw storeError(err, `downloading to ${file}`, this.uriOf(key));
    }
  }

  /** Keys under a prefix (relative to the store's prefix), every page of the listing. */
  async list(under: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of this.listObjects(under)) keys.push(object.key);
    return keys;
  }

  /**
   * Objects whose key starts with `under` (relative to the store's prefix), page by page
   * (ListObjectsV2: `pageSize` keys a page, 1,000 unless given). `delimiter: '/'` lists one level:
   * what lies deeper is left out. `startAfter` (a key, like `under` relative to the store's
   * prefix) starts the listing past it, in the store's order (UTF-8 bytes).
   */
  async *listObjects(under: string, opts: { delimiter?: '/'; pageSize?: number; startAfter?: string } = {}): AsyncGenerator<ObjectInfo> {
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await this.retrying('listing', this.uriOf(under), () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.objectKey(under), ContinuationToken: token, Delimiter: opts.delimiter, MaxKeys: opts.pageSize, StartAfter: opts.startAfter === undefined ? undefined : this.objectKey(opts.startAfter) })),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) yield { key: object.Key.slice(strip), size: object.Size ?? 0, etag: object.ETag ?? '' };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Size and ETag of an object, or undefined when there is none. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.retrying('reading its size and ETag', this.uriOf(key), () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })));
      return { key, size: res.ContentLength ?? 0, etag: res.ETag ?? '' };
    } catch (err) {
      if ((err as ObjectStoreError).problem === 'no-such-object') return undefined;
      throw err;
    }
  }

  /**
   * Streams bytes [start, end) of an object (all of it by default), as they arrive: one GET,
   * and where the stream breaks, ranged GETs from the byte reached (see resumingRead). Every
   * request names one version, `etag` or else the one the first answer had (If-Match): an object
   * replaced meanwhile fails the read with ObjectStoreError 'changed', never mixes two versions.
   */
  read(key: string, opts: { etag?: string; start?: number; end?: number } = {}): AsyncGenerator<Buffer> {
    const uri = this.uriOf(key);
    const open = (from: number, etag: string | undefined) =>
      this.retrying(from > 0 ? `reading from byte ${from}` : 'reading', uri, async () => {
        const ranged = from > 0 || opts.end !== undefined;
        const res = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), IfMatch: etag, Range: ranged ? `bytes=${from}-${opts.end === undefined ? '' : opts.end - 1}` : undefined }),
        );
        return { body: res.Body as Readable, length: res.ContentLength ?? 0, etag: res.ETag };
      });
    return resumingRead(uri, open, { start: opts.start ?? 0, etag: opts.etag, attempts: this.attempts });
  }

  /** A whole object (or bytes [start, end) of it) in memory: manifests, single images. */
  async readAll(key: string, opts: { etag?: string; start?: number; end?: number } = {}): Promise<Buffer> {
    if (opts.end !== undefined && opts.end <= (opts.start ?? 0)) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const chunk of this.read(key, opts)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw storeError(err, 'deleting', this.uriOf(key));
    }
  }
}

/** One object of a listing: enough to address that version of it. */
export interface ObjectInfo {
  /** Relative to the store's prefix. */
  key: string;
  size: number;
  /** As the store gives it, quotes included: what If-Match takes. */
  etag: string;
}

/** One GET's answer: the body and how many bytes it promised. */
export interface ObjectBody {
  body: AsyncIterable<Uint8Array>;
  length: number;
  etag?: string;
}

/**
 * The bytes of one object from `start`, resuming a broken stream: a body that fails or ends short
 * of what its GET promised is asked for again from the byte reached, of the same version (the
 * ETag pinned by the first answer). `attempts` breaks in a row without a byte of progress give up,
 * retryably, naming the URI and the byte offset. `open` does the GET, its own retries included.
 */
export async function* resumingRead(
  uri: string,
  open: (from: number, etag: string | undefined) => Promise<ObjectBody>,
  opts: { start: number; etag?: string; attempts: number; delayMs?: (attempt: number) => number },
): AsyncGenerator<Buffer> {
  const delayMs = opts.delayMs ?? ((attempt) => 500 * attempt);
  let offset = opts.start;
  let etag = opts.etag;
  for (let breaks = 0; ; ) {
    const answer = await open(offset, etag);
    etag ??= answer.etag;
    const end = offset + answer.length;
    const before = offset;
    let cause: string;
    try {
      for await (const chunk of answer.body) {
        offset += chunk.length;
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
      if (offset >= end) return;
      cause = `the stream ended ${end - offset} bytes short`;
    } catch (err) {
      cause = (err as Error).message;
    }
    breaks = offset > before ? 1 : breaks + 1;
    if (breaks > opts.attempts) throw new ObjectStoreError(`object storage ${uri}: reading broke at byte offset ${offset} (${cause}) ${breaks} times in a row; retryable`, uri, true);
    log.warn({ component: 's3', uri, offset }, `object storage ${uri}: reading broke at byte offset ${offset} (${cause}); resuming from there`);
    await sleep(delayMs(breaks));
  }
}
