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
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';

/** `s3://bucket` or `s3://bucket/prefix`: what `trainer.checkpointUri` accepts. */
export const S3_URI = /^s3:\/\/([^/\s]+)(?:\/(\S*))?$/i;

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
  const e = err as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const cause = `${e.code ?? e.name}: ${e.message}`;
  // Redirects (wrong region) and 4xx other than timeouts and throttling are answers about the configuration.
  const misconfigured = e.name === 'CredentialsProviderError' || (status !== undefined && status >= 300 && status < 500 && status !== 408 && status !== 429);
  if (misconfigured) {
    return new ObjectStoreError(
      `object storage ${uri}: ${what} refused (${cause}); check the bucket, the credentials and AWS_ENDPOINT_URL / AWS_REGION`,
      uri,
      false,
    );
  }
  return new ObjectStoreError(`object storage ${uri} unreachable: ${what} failed (${cause}); retryable`, uri, true);
}

/** Files under one `s3://bucket/prefix`; keys are relative to the prefix, `/`-separated. */
export class ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  /** The SDK retries requests but not streamed uploads: `put` does, as often as the SDK would. */
  private readonly putAttempts: number;

  constructor(
    readonly uri: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const match = S3_URI.exec(uri);
    if (!match) throw new ObjectStoreError(`object storage ${uri}: not an s3://bucket/prefix URI`, uri, false);
    this.bucket = match[1];
    this.prefix = (match[2] ?? '').replace(/\/+$/, '');
    this.client = clientFor(env);
    this.putAttempts = Number(env.AWS_MAX_ATTEMPTS ?? 3);
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
    for (let attempt = 1; ; attempt++) {
      try {
        const { size } = await stat(file);
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: createReadStream(file), ContentLength: size }));
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
        const failure = storeError(err, `uploading ${file}`, this.uriOf(key));
        if (!failure.retryable || attempt >= this.putAttempts) throw failure;
        await sleep(1000 * attempt);
      }
    }
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
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.objectKey(under), ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key.slice(strip));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw storeError(err, 'listing', this.uriOf(under));
    }
    return keys;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw storeError(err, 'deleting', this.uriOf(key));
    }
  }
}
