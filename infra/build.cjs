'use strict';
// Compiles the TypeScript sources to dist/ (CommonJS and type declarations) and bundles the compiled
// workflows into dist/workflow-bundle.js: what the `sept` command, the production workers and the
// published package run. `npm run build` always builds;
// setup builds only when a source is newer than the last build.
// Node built-ins only, like setup, which requires it.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const config = path.join(root, 'tsconfig.build.json');
/** Written into a finished build, dated when the build read its sources. */
const STAMP = '.build-stamp';

/** Newest mtime of the build's inputs: its configs and the .ts files under what it includes. */
function newestSourceMtime() {
  let newest = Math.max(fs.statSync(config).mtimeMs, fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs);
  const visit = (p) => {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    else if (p.endsWith('.ts')) newest = Math.max(newest, stat.mtimeMs);
  };
  for (const entry of JSON.parse(fs.readFileSync(config, 'utf8')).include) visit(path.join(root, entry));
  return newest;
}

/** Whether dist/ was built from the sources as they are now. */
function buildCurrent() {
  const stamp = path.join(dist, STAMP);
  return fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= newestSourceMtime();
}

function build() {
  const started = new Date();
  // Compiled aside and swapped in whole: a `sept` process or a second setup starting meanwhile
  // never meets half a build.
  const staging = fs.mkdtempSync(`${dist}.staging-`);
  fs.chmodSync(staging, 0o755); // mkdtemp's 0700 would keep other users from the build
  try {
    const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
    const res = spawnSync(process.execPath, [tsc, '-p', config, '--outDir', staging], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (res.status !== 0) throw new Error(`the build failed (tsc exit ${res.status})`);
    const previous = `${dist}.old-${process.pid}`;
    if (fs.existsSync(dist)) fs.renameSync(dist, previous);
    fs.renameSync(staging, dist);
    fs.rmSync(previous, { recursive: true, force: true });
    // The workflows bundled once here, not by every sept-cpu worker at its start
    // (workers/workflow-bundle.ts). In dist/ itself, as its own cwd: webpack names modules and
    // source-map sources by their paths, which must be dist/'s, not the staging folder's. Until the
    // bundle and the stamp are there, a worker bundles the workflows itself.
    const bundled = spawnSync(process.execPath, [path.join('workers', 'workflow-bundle.js'), 'workflow-bundle.js'], { cwd: dist, stdio: ['ignore', 'inherit', 'inherit'] });
    if (bundled.status !== 0) throw new Error(`the build failed: bundling the workflows exited ${bundled.status}`);
    const stamp = path.join(dist, STAMP);
    fs.writeFileSync(stamp, '');
    fs.utimesSync(stamp, started, started);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** Builds unless dist/ is newer than every source; a published package has no sources and is current. */
function ensureBuild(log = () => {}) {
  if (!fs.existsSync(config) || buildCurrent()) return;
  log('[setup] building dist/ (tsc)...');
  build();
}

module.exports = { ensureBuild, buildCurrent };

if (require.main === module) {
  try {
    build();
  } catch (err) {
    console.error(`[build] ${err.message}`);
    process.exit(1);
  }
}
