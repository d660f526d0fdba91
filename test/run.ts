// `npm test` and its tiers (docs/testing.md). `tsx test/run.ts [unit | hostile | integration | file...]`:
//   nothing      type-checks, runs the unit tier, the hostile tier, the integration tier, then the
//                reference trainer's pytest suite in the trainer's Python environment (as many
//                files at once as the tiers run)
//   unit         the test files under test/unit/
//   hostile      the test files under test/hostile/: hostile inputs (bombs, links, FIFOs, torn
//                files, paths out of bounds) generated in code and run through the real embedding
//                path and config entry points; real parts allowed as in integration (onnxruntime,
//                LanceDB under a temporary SEPT_DATA_DIR, child processes), no Temporal server
//                unless a case needs one. Each case: no crash, bounded time, the right quarantine
//                reason or refusal, every good sample embedded once.
//   integration  the test files under test/integration/
//   file...      the given test files, each under its tier's rules; no typecheck, no trainer tests
// A tier's files start longest first, by the times this machine's earlier runs recorded
// (test/support/file-seconds.ts). A file's tier is its folder. Unit files run with
// test/support/unit-tier.cjs preloaded, which fails a test that starts a program or opens a
// LanceDB store; only the integration tier gets the system packages installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { projectRoot } from '../lib/paths';
import { longestFirst, readFileSeconds, recordFileSeconds } from './support/file-seconds';

const TIERS = ['unit', 'hostile', 'integration'] as const;
type Tier = (typeof TIERS)[number];
const testRoot = join(projectRoot, 'test');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.test.ts'))
    .map((path) => join(dir, path));
}

function tierOf(file: string): Tier {
  const tier = relative(testRoot, file).split(sep)[0];
  if (!(TIERS as readonly string[]).includes(tier)) throw new Error(`${relative(projectRoot, file)} is in no tier: test files live under test/unit/, test/hostile/ or test/integration/`);
  return tier as Tier;
}

function step(name: string, cmd: string, args: string[]): boolean {
  console.log(`\n=== ${name}: ${[cmd, ...args].map((a) => (a.startsWith(projectRoot) ? relative(projectRoot, a) : a)).join(' ')}`);
  const started = Date.now();
  const res = spawnSync(cmd, args, { cwd: projectRoot, stdio: 'inherit' });
  console.log(`=== ${name}: ${res.status === 0 ? 'ok' : `FAILED (exit ${res.status ?? res.signal})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return res.status === 0;
}

function runTier(tier: Tier, files: string[]): boolean {
  if (tier === 'integration') {
    // The mTLS test runs nginx in front of the dev server; the UI test drives Debian's Chromium; the
    // shared-nothing test runs its workers under strace.
    const { ensureSystemPackages } = require('../infra/system-packages.cjs') as { ensureSystemPackages: (p: string[], o: { log: (m: string) => void }) => unknown };
    ensureSystemPackages(['nginx', 'openssl', 'chromium', 'strace'], { log: (m) => console.error(m) });
  }
  const guard = tier === 'unit' ? ['--require', join(testRoot, 'support', 'unit-tier.cjs')] : [];
  const concurrency = testConcurrency();
  // Longest first (by this machine's earlier runs), and each file's time recorded for the next run.
  const ordered = longestFirst(files, readFileSeconds(), (file) => relative(projectRoot, file));
  const scratch = mkdtempSync(join(tmpdir(), 'septflow-test-seconds-'));
  const secondsFile = join(scratch, 'seconds.tsv');
  const reporters = ['--test-reporter', process.stdout.isTTY ? 'spec' : 'tap', '--test-reporter-destination', 'stdout', '--test-reporter', join(testRoot, 'support', 'file-seconds-reporter.mjs'), '--test-reporter-destination', secondsFile];
  try {
    return step(`${tier} tests (${files.length} files, ${concurrency} at a time)`, process.execPath, ['--import', 'tsx', ...guard, `--test-concurrency=${concurrency}`, ...reporters, '--test', ...ordered]);
  } finally {
    try {
      if (existsSync(secondsFile)) recordFileSeconds(readFileSync(secondsFile, 'utf8'), (file) => relative(projectRoot, file));
    } catch (err) {
      // The record only orders the next run's files: a cache that cannot be written fails no tier.
      console.error(`=== ${tier} tests: file times not recorded: ${(err as Error).message}`);
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Test files run at once: SEPT_TEST_CONCURRENCY, else one per core up to 4. Node's own default
 * (cores - 1) runs one at a time on a 2-core machine although most files keep one core busy (their
 * encoders and trainers run one thread) while they wait on servers and processes. Every file's
 * servers, ports, stores and folders are its own, so files do not meet.
 */
function testConcurrency(): number {
  const fromEnv = process.env.SEPT_TEST_CONCURRENCY;
  if (fromEnv === undefined) return Math.min(4, availableParallelism());
  const n = Number(fromEnv);
  if (!Number.isInteger(n) || n < 1) throw new Error(`SEPT_TEST_CONCURRENCY must be a whole number of test files, at least 1; got ${JSON.stringify(fromEnv)}`);
  return n;
}

/**
 * pytest-xdist's arguments for the trainer's suite: as many test files at once as test files of the
 * other tiers (its trainers run one thread each, so one pytest process leaves a core idle). Each
 * file stays on one pytest worker (--dist loadfile): its module fixtures run once. None where the
 * trainer's Python (SEPT_TRAINER_PYTHON) has no xdist: the suite then runs one test at a time.
 */
function pytestWorkers(python: string): string[] {
  const workers = testConcurrency();
  if (workers < 2) return [];
  if (spawnSync(python, ['-c', 'import xdist'], { stdio: 'ignore' }).status !== 0) {
    console.log(`=== trainer tests: ${python} has no pytest-xdist; one test at a time`);
    return [];
  }
  return ['-n', String(workers), '--dist', 'loadfile'];
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const everything = args.length === 0;
  const onlyTier = TIERS.find((tier) => args.length === 1 && args[0] === tier);
  const files = (onlyTier ? testFiles(join(testRoot, onlyTier)) : everything ? testFiles(testRoot) : args.map((a) => resolve(a))).sort();
  const byTier = new Map<Tier, string[]>(TIERS.map((tier) => [tier, files.filter((f) => tierOf(f) === tier)]));
  const results: boolean[] = [];
  if (everything) results.push(step('typecheck', join(projectRoot, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.']));
  for (const [tier, tierFiles] of byTier) if (tierFiles.length) results.push(runTier(tier, tierFiles));
  const trainerTests = join(projectRoot, 'trainer', 'tests');
  if (everything && existsSync(trainerTests)) {
    const { ensureTrainerPython } = require('../infra/trainer-env.cjs') as {
      ensureTrainerPython: (o: { projectRoot: string; log: (m: string) => void }) => Promise<string>;
    };
    const python = await ensureTrainerPython({ projectRoot, log: (m) => console.error(m) });
    results.push(step('trainer tests', python, ['-m', 'pytest', '-q', ...pytestWorkers(python), trainerTests]));
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
