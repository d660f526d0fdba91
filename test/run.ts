// `npm test`: type-checks, runs every TypeScript test file under test/ with node's test runner,
// then the reference trainer's pytest suite in the trainer's Python environment.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../lib/paths';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

function step(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  console.log(`\n=== ${name}: ${[cmd, ...args].map((a) => relative(projectRoot, a) || a).join(' ')}`);
  const started = Date.now();
  const res = spawnSync(cmd, args, { cwd: projectRoot, stdio: 'inherit', env });
  console.log(`=== ${name}: ${res.status === 0 ? 'ok' : `FAILED (exit ${res.status ?? res.signal})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return res.status === 0;
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = (only.length ? only : testFiles(join(projectRoot, 'test'))).sort();
  const results: boolean[] = [];
  if (!only.length) results.push(step('typecheck', join(projectRoot, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.']));
  // The mTLS test runs nginx in front of the dev server; the UI test drives Debian's Chromium.
  const { ensureSystemPackages } = require('../infra/system-packages.cjs') as { ensureSystemPackages: (p: string[], o: { log: (m: string) => void }) => unknown };
  ensureSystemPackages(['nginx', 'openssl', 'chromium'], { log: (m) => console.error(m) });
  results.push(step('node tests', process.execPath, ['--import', 'tsx', '--test', ...files]));
  const trainerTests = join(projectRoot, 'trainer', 'tests');
  if (!only.length && existsSync(trainerTests)) {
    const { ensureTrainerPython } = require('../infra/trainer-env.cjs') as {
      ensureTrainerPython: (o: { projectRoot: string; log: (m: string) => void }) => Promise<string>;
    };
    const python = await ensureTrainerPython({ projectRoot, log: (m) => console.error(m) });
    results.push(step('trainer tests', python, ['-m', 'pytest', '-q', trainerTests]));
  }
  return results.every(Boolean) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`test run failed: ${err.message}`);
    process.exit(1);
  },
);
