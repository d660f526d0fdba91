import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files of a throwaway PKI: a CA, a server and a client certificate it signed, and an unrelated CA. */
export interface TestCerts {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCaCert: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// rustls (the worker's NativeConnection) accepts only v3 certificates with the usual extensions:
// a CA marked as such, leaves that are not CAs, names in subjectAltName (never the CN).
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = septflow test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:septflow-worker
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function selfSignedCa(dir: string, name: string): void {
  openssl(['req', '-x509', ...EC_KEY, '-config', 'openssl.cnf', '-extensions', 'ca', '-subj', `/CN=${name}`, '-days', '2', '-keyout', `${name}.key`, '-out', `${name}.pem`], dir);
}

function signedLeaf(dir: string, name: string, profile: 'server' | 'client'): void {
  openssl(['req', '-new', ...EC_KEY, '-config', 'openssl.cnf', '-subj', `/CN=septflow ${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'openssl.cnf', '-extensions', profile, '-out', `${name}.pem`],
    dir,
  );
}

/** Generates the certificates with `openssl` into `dir` (ECDSA P-256, valid two days). */
export function generateTestCerts(dir: string): TestCerts {
  writeFileSync(join(dir, 'openssl.cnf'), CONFIG);
  selfSignedCa(dir, 'ca');
  selfSignedCa(dir, 'other-ca');
  signedLeaf(dir, 'server', 'server');
  signedLeaf(dir, 'client', 'client');
  return {
    caCert: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    otherCaCert: join(dir, 'other-ca.pem'),
  };
}
