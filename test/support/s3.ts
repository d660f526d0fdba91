import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Server } from '../../infra/s3-server';

/** Object keys under a prefix, straight from the S3 API (ListObjectsV2), independent of septflow's clients. */
export async function listKeys(s3: S3Server, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
    const xml = await (await fetch(`${s3.endpoint}/${bucket}?${query}`)).text();
    keys.push(...[...xml.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]));
    token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]+)</.exec(xml)?.[1] : undefined;
  } while (token);
  return keys;
}

// moto checks no signature, but refuses anonymous requests to replace or delete an existing object.
const authorization = (s3: S3Server) => ({ Authorization: `AWS ${s3.accessKeyId}:unsigned` });

/** Uploads (or replaces) an object with a plain PUT, independent of septflow's clients. */
export async function putObject(s3: S3Server, bucket: string, key: string, body: Buffer | string): Promise<void> {
  const res = await fetch(`${s3.endpoint}/${bucket}/${key}`, { method: 'PUT', body, headers: authorization(s3) });
  if (!res.ok) throw new Error(`PUT ${bucket}/${key}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  await res.arrayBuffer();
}

export async function deleteObject(s3: S3Server, bucket: string, key: string): Promise<void> {
  await (await fetch(`${s3.endpoint}/${bucket}/${key}`, { method: 'DELETE', headers: authorization(s3) })).arrayBuffer();
}

/** A request the proxy forwarded, and the status the store answered. */
export interface ForwardedRequest {
  method: string;
  url: string;
  range?: string;
  ifMatch?: string;
  status?: number;
}

export interface CuttingProxy {
  /** http://127.0.0.1:<port>: point AWS_ENDPOINT_URL here. */
  endpoint: string;
  requests: ForwardedRequest[];
  /**
   * Breaks the next whole-object GET whose URL matches `url` the way a network does: its
   * connection is destroyed once `afterBytes` bytes of the body went out, after `beforeCut` ran.
   */
  arm(cut: { url: RegExp; afterBytes: number; beforeCut?: () => Promise<void> }): void;
  /** Whether the armed cut happened. */
  readonly cuts: number;
  stop(): Promise<void>;
}

/** An HTTP proxy in front of the S3 server that passes everything through, except the one stream it is armed to break. */
export async function startCuttingProxy(s3: S3Server): Promise<CuttingProxy> {
  const upstream = new URL(s3.endpoint);
  const requests: ForwardedRequest[] = [];
  let armed: Parameters<CuttingProxy['arm']>[0] | undefined;
  let cuts = 0;
  const server = createServer((req, res) => {
    const record: ForwardedRequest = { method: req.method!, url: req.url!, range: req.headers.range, ifMatch: req.headers['if-match'] as string | undefined };
    requests.push(record);
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      record.status = answer.statusCode;
      res.writeHead(answer.statusCode!, answer.headers);
      const cut = armed && req.method === 'GET' && !req.headers.range && answer.statusCode === 200 && armed.url.test(req.url!) ? armed : undefined;
      if (!cut) {
        answer.pipe(res);
        return;
      }
      armed = undefined;
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= cut.afterBytes) return;
        const part = chunk.subarray(0, cut.afterBytes - sent);
        sent += part.length;
        res.write(part, () => {
          if (sent < cut.afterBytes) return;
          answer.destroy();
          void (cut.beforeCut ?? (async () => undefined))().finally(() => {
            cuts++;
            res.socket?.destroy();
          });
        });
      });
      answer.on('end', () => res.end());
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    arm: (cut) => (armed = cut),
    get cuts() {
      return cuts;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sets process variables (the AWS ones that configure a worker) until the returned function puts back what was there. */
export function setEnv(vars: Record<string, string>): () => void {
  const saved = Object.entries(vars).map(([k]) => [k, process.env[k]] as const);
  Object.assign(process.env, vars);
  return () => saved.forEach(([k, v]) => (v === undefined ? delete process.env[k] : (process.env[k] = v)));
}
