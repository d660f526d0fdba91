import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths';
import { freePort, stopProcess } from './dev-server';
// From the package root, where setup's CommonJS helpers stay in the build too (tsc copies no .cjs into dist/).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureSystemPackages } = require(join(projectRoot, 'infra', 'system-packages.cjs')) as {
  ensureSystemPackages: (packages: string[], opts?: { log?: (m: string) => void }) => Record<string, string>;
};

/**
 * nginx terminating TLS in front of a plaintext gRPC server (the dev server has no TLS): how the
 * mTLS path of workers and clients is exercised locally, and the shape of a production proxy.
 */
export interface TlsProxyOptions {
  /** The plaintext gRPC server, host:port. */
  upstream: string;
  /** PEM certificate and key the proxy presents. */
  certFile: string;
  keyFile: string;
  /** When given, clients must present a certificate signed by this CA (`ssl_verify_client on`). */
  clientCaFile?: string;
  /**
   * When given, every request must carry `authorization: Bearer <apiKey>`, as Temporal Cloud checks
   * API keys; others get HTTP 401, which gRPC clients report as UNAUTHENTICATED.
   */
  apiKey?: string;
  /** Port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** How long to wait for nginx to listen, in ms. */
  startTimeoutMs?: number;
}

export interface TlsProxy {
  address: string;
  /** nginx's prefix: its config, pid, logs and temp files. */
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** nginx config of the proxy; every path lives under `dir`, so nothing of the system's nginx is used. */
export function tlsProxyConfig(opts: TlsProxyOptions & { port: number; dir: string }): string {
  const temp = (name: string) => join(opts.dir, 'tmp', name);
  return `worker_processes 1;
pid ${join(opts.dir, 'nginx.pid')};
error_log ${join(opts.dir, 'error.log')} info;
events { worker_connections 1024; }
http {
  access_log ${join(opts.dir, 'access.log')};
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    # 'listen ... http2' works from nginx 1.9.5 on (Debian 12 ships 1.22; 1.25+ warns and prefers 'http2 on').
    listen 127.0.0.1:${opts.port} ssl http2;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${opts.certFile};
    ssl_certificate_key ${opts.keyFile};
${opts.clientCaFile ? `    ssl_client_certificate ${opts.clientCaFile};\n    ssl_verify_client on;\n` : ''}    # Workers long-poll for tasks (about a minute per poll): nginx's 60 s defaults would cut polls.
    grpc_read_timeout 1h;
    grpc_send_timeout 1h;
    # Payloads and histories can be megabytes; nginx would refuse bodies over 1 MB.
    client_max_body_size 0;
    location / {
${opts.apiKey ? `      if ($http_authorization != "Bearer ${opts.apiKey}") { return 401; }\n` : ''}      grpc_pass grpc://${opts.upstream};
    }
  }
}
`;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts nginx in the foreground (`daemon off`) with a generated config in a temporary prefix. */
export async function startTlsProxy(opts: TlsProxyOptions): Promise<TlsProxy> {
  if (opts.apiKey !== undefined && !/^[\w.~+/=-]+$/.test(opts.apiKey)) throw new Error('apiKey: only token characters (letters, digits, . ~ + / = - _) fit in the proxy config');
  const { nginx } = ensureSystemPackages(['nginx']);
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'septflow-tls-proxy-'));
  mkdirSync(join(dir, 'tmp'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, tlsProxyConfig({ ...opts, port, dir }));
  // -e: errors before the config is read go to the prefix too, not to /var/log/nginx.
  const child = spawn(nginx, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async () => {
    await stopProcess(child, 'SIGTERM', 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  for (;;) {
    if (child.exitCode !== null) {
      let log = '';
      try {
        log = readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        /* nginx wrote none */
      }
      await stop();
      throw new Error(`nginx exited with code ${child.exitCode} during start: ${(stderr + log).trim().split('\n').slice(-5).join('\n')}`);
    }
    if (await listening(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx not listening on 127.0.0.1:${port} after ${opts.startTimeoutMs ?? 10_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address: `127.0.0.1:${port}`, dir, process: child, stop };
}
