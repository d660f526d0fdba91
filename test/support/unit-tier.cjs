'use strict';
// The unit tier's promise, kept in every unit test process: test/run.ts preloads this module
// (`--require`) for the files under test/unit/. The tier runs in seconds on npm packages and the
// Temporal CLI alone, so a unit test may start a Temporal dev server and run code in-process
// (onnxruntime and sharp included), but starts no other program (the trainer, worker processes,
// nginx, openssl, Chromium, moto) and opens no LanceDB store. A test that does fails at once,
// saying where it belongs, instead of slowing the tier down unnoticed. Loading a module is never
// refused: production modules import LanceDB and the trainer for code a unit test does not run.
// Plain CommonJS because worker threads (the Temporal workflow threads) preload it too, before
// any TypeScript loader.
const childProcess = require('node:child_process');
const Module = require('node:module');
const { basename } = require('node:path');

/** The Temporal CLI (the dev server) and GNU tar, which every system has. */
const ALLOWED_PROGRAMS = new Set(['temporal', 'tar']);

function refuse(what) {
  throw new Error(`${what} belongs in the integration tier: move this test under test/integration/ (docs/testing.md#which-tier)`);
}

for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork']) {
  const launch = childProcess[name];
  childProcess[name] = function (command, ...rest) {
    // exec and execSync take a shell command line; the others a program.
    const program = name === 'exec' || name === 'execSync' ? String(command).trim().split(/\s+/)[0] : String(command);
    if (name === 'fork' || !ALLOWED_PROGRAMS.has(basename(program))) refuse(`Starting ${program}`);
    return launch.call(this, command, ...rest);
  };
}
Module.syncBuiltinESMExports();

const load = Module._load;
Module._load = function (request, ...rest) {
  const exports = load.call(this, request, ...rest);
  if (request === '@lancedb/lancedb') {
    Object.assign(exports, { connect: () => refuse('Opening a LanceDB store'), connectNamespace: () => refuse('Opening a LanceDB namespace') });
  }
  return exports;
};
