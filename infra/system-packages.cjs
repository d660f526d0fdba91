'use strict';
// Debian packages that some tests and local tools need (nginx as a TLS proxy in front of the dev
// server, openssl for test certificates, chromium for the Temporal UI test, strace to record what
// files a worker touches). Installed with apt-get only when a binary is missing.
// Plain CommonJS with Node built-ins only: setup runs it before `npm ci` has installed anything.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** The binary that shows a package is installed (some live in sbin, off a normal user's PATH). */
const BINARY_OF = {
  nginx: 'nginx',
  openssl: 'openssl',
  chromium: 'chromium',
};

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of an executable on PATH or in the sbin folders, or undefined. */
function findBinary(name) {
  const dirs = [...(process.env.PATH || '').split(path.delimiter).filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function binaryOf(pkg) {
  return BINARY_OF[pkg] || pkg;
}

let updated = false;

function aptGet(args) {
  const res = spawnSync('apt-get', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (res.error) throw new Error(`cannot run apt-get: ${res.error.message}`);
  if (res.status !== 0) {
    const output = `${res.stdout || ''}${res.stderr || ''}`.trim().split('\n').slice(-20).join('\n');
    throw new Error(`apt-get ${args.join(' ')} failed (exit ${res.status}):\n${output}`);
  }
}

/**
 * Installs the Debian packages whose binary is missing (one `apt-get update` per process, then one
 * non-interactive `apt-get install`). Returns the absolute paths of the packages' binaries.
 * Throws, naming the command to run by hand, when not root or when apt-get is absent or fails.
 */
function ensureSystemPackages(packages, { log = (msg) => console.error(msg) } = {}) {
  const missing = packages.filter((pkg) => !findBinary(binaryOf(pkg)));
  if (missing.length > 0) {
    const byHand = `sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`;
    if (!findBinary('apt-get')) throw new Error(`missing ${missing.join(', ')} and no apt-get on this machine: install them by hand`);
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error(`missing system packages ${missing.join(', ')}; not root, so not installing them: run \`${byHand}\``);
    }
    log(`[setup] installing Debian packages: ${missing.join(' ')}`);
    try {
      if (!updated) {
        aptGet(['update', '-qq']);
        updated = true;
      }
      // Other installs on the machine hold dpkg's lock for a while: wait for it rather than fail.
      aptGet(['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=600', '--no-install-recommends', ...missing]);
    } catch (err) {
      throw new Error(`${err.message}\n(install by hand: ${byHand})`);
    }
    const still = missing.filter((pkg) => !findBinary(binaryOf(pkg)));
    if (still.length > 0) throw new Error(`apt-get installed ${still.join(', ')} but ${still.map(binaryOf).join(', ')} is still not found`);
  }
  return Object.fromEntries(packages.map((pkg) => [pkg, findBinary(binaryOf(pkg))]));
}

module.exports = { ensureSystemPackages, findBinary };

if (require.main === module) {
  try {
    const found = ensureSystemPackages(process.argv.slice(2));
    for (const [pkg, bin] of Object.entries(found)) console.log(`${pkg}: ${bin}`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
