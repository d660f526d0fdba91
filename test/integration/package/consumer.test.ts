// septflow as a consumer meets it: `npm pack`, installed from the tarball into a project of its
// own, with none of the repository's sources or dev dependencies (tsx, typescript) beside it.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { logOutput, stopProcess } from '../../../infra/dev-server';
import { projectRoot } from '../../../lib/paths';
import { startTestTemporal, type TestTemporal } from '../../support/temporal';
import { tempDir } from '../../support/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureBuild } = require('../../../infra/build.cjs') as { ensureBuild: (log?: (m: string) => void) => void };

const exec = promisify(execFile);
const TSC = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');

/** Writes `script` as `name` in the consumer's project and runs it with plain node; its stdout. */
async function node(app: string, name: string, script: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  writeFileSync(join(app, name), script);
  // Killed rather than left hanging, should it wait on a server or worker that never answers.
  return (await exec(process.execPath, [name], { cwd: app, env: { ...process.env, ...env }, timeout: 90_000 })).stdout;
}

/**
 * A project with the tarball installed. npm resolves a tarball's dependencies from the registry,
 * and tests run offline: the project's lockfile is seeded with the repository's resolutions of
 * the runtime dependencies (what `npm ci` put in npm's cache), so the install reads the cache only.
 */
async function installConsumer(dir: string, tarball: string): Promise<string> {
  const app = join(dir, 'app');
  mkdirSync(app);
  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const runtime = Object.entries(lock.packages).filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev);
  const project = { name: 'consumer', version: '1.0.0', private: true };
  writeFileSync(join(app, 'package.json'), JSON.stringify(project));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ ...project, lockfileVersion: 3, requires: true, packages: { '': project, ...Object.fromEntries(runtime) } }));
  // onnxruntime-node's install script would download CUDA binaries; the CPU ones ship in the package.
  await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  return app;
}

describe('the packed package, installed in a project of its own', () => {
  // Outside the repository: node_modules folders above the project must not stand in for its own.
  const dir = tempDir('septflow-consumer-', tmpdir());
  let app: string;
  let temporal: Promise<TestTemporal> | undefined;
  before(async () => {
    ensureBuild((m) => console.error(m));
    // The build is current now: prepack would only build it again.
    const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { cwd: projectRoot });
    const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
    // The server starts while npm installs, which takes most of this test's time.
    temporal = startTestTemporal();
    app = await installConsumer(dir, join(dir, filename));
  });
  after(async () => (await temporal?.catch(() => undefined))?.stop());

  it('runs without a TypeScript loader: none is installed', () => {
    assert.ok(existsSync(join(app, 'node_modules', 'septflow', 'dist', 'index.js')));
    assert.ok(!existsSync(join(app, 'node_modules', 'tsx')));
    assert.ok(!existsSync(join(app, 'node_modules', 'typescript')));
  });

  it('require() and import() give the client API; the JSON Schema is exported', async () => {
    const required = JSON.parse(
      await node(
        app,
        'require.cjs',
        `const septflow = require('septflow');
        console.log(JSON.stringify({
          startSeptRun: typeof septflow.startSeptRun,
          parsedName: septflow.parseRunConfig({ demo: true, name: 'x' }).name,
          schemaPath: septflow.runConfigJsonSchemaPath,
          schema: require('septflow/schema/run-config.schema.json'),
          version: require('septflow/package.json').version,
        }));`,
      ),
    );
    assert.equal(required.startSeptRun, 'function');
    assert.equal(required.parsedName, 'x');
    assert.equal(required.schemaPath, join(app, 'node_modules', 'septflow', 'schema', 'run-config.schema.json'));
    assert.ok(existsSync(required.schemaPath), required.schemaPath);
    assert.deepEqual(required.schema, JSON.parse(readFileSync(join(projectRoot, 'schema', 'run-config.schema.json'), 'utf8')));
    assert.equal(required.version, JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version);

    const imported = JSON.parse(
      await node(
        app,
        'import.mjs',
        `import { startSeptRun, getSeptRun } from 'septflow';
        console.log(JSON.stringify([typeof startSeptRun, typeof getSeptRun]));`,
      ),
    );
    assert.deepEqual(imported, ['function', 'function']);
  });

  it('a TypeScript file importing it type-checks, against real types', async () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(projectRoot, 'node_modules', '@types')],
        },
        files: ['typed.ts'],
      }),
    );
    writeFileSync(
      join(app, 'typed.ts'),
      `import { startSeptRun, type RunConfigInput, type SeptRunResult } from 'septflow';

      const config: RunConfigInput = { demo: true, name: 'typed', retrieval: { budget: 1000 } };

      export async function run(): Promise<SeptRunResult> {
        const handle = await startSeptRun(config, { summary: 'from a consumer' });
        return handle.result();
      }

      // @ts-expect-error a run name is a string: the declarations are checked, not any
      void startSeptRun({ demo: true, name: 42 });
      `,
    );
    await exec(process.execPath, [TSC, '-p', app], { cwd: app }).catch((err: { stdout: string }) => assert.fail(`tsc failed:\n${err.stdout}`));
  });

  it("ships the search kernel's sources: `sept build-search-kernel` gives the addon a checkout's setup builds, and its workers load it", async () => {
    const { locateSearchBlas } = require('../../../infra/search-blas.cjs') as { locateSearchBlas(): { file?: string; missing?: string } };
    const here = locateSearchBlas();
    assert.ok(here.file, `the checkout's setup built no search kernel: ${here.missing}`);
    // The cache is keyed by the sources: the same sources name the same build, found, not rebuilt.
    const { stdout } = await exec(join(app, 'node_modules', '.bin', 'sept'), ['build-search-kernel'], { cwd: app });
    assert.equal(stdout.trim(), here.file);
    // What a sept-cpu worker of the package loads (its exports keep lib/ private: reached by path here).
    const loaded = await node(app, 'kernel.cjs', `const { join, dirname } = require('node:path'); const { loadSearchBlas } = require(join(dirname(require.resolve('septflow/package.json')), 'dist/lib/retrieval/blas-kernel.js')); const b = loadSearchBlas(); console.log(JSON.stringify({ missing: b.missing, config: b.addon?.config() }));`);
    const { missing, config } = JSON.parse(loaded) as { missing?: string; config?: string };
    assert.equal(missing, undefined);
    assert.match(config!, /OpenBLAS/);
  });

  it("a plain Node script starts a run on a Temporal server; the package's `sept worker` takes it up", async () => {
    const t = await temporal!;
    const env = { TEMPORAL_ADDRESS: t.server.address, SEPT_DATA_DIR: tempDir() };
    const worker: ChildProcess = spawn(join(app, 'node_modules', '.bin', 'sept'), ['worker', '--queue', 'cpu'], { cwd: app, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    logOutput(worker, join(tempDir(), 'worker-cpu.log'));
    try {
      const started = JSON.parse(
        await node(
          app,
          'start.cjs',
          `const { startSeptRun } = require('septflow');
          (async () => {
            const run = await startSeptRun({ demo: true, name: 'consumer-run', outputDir: 'runs' });
            // Answered by the worker: the workflow code it bundled from the package's build.
            let progress;
            while (!progress) progress = await run.progress().catch(() => new Promise((r) => setTimeout(r, 200)));
            console.log(JSON.stringify({ workflowId: run.workflowId, runId: run.runId, progress }));
            await run.close();
          })();`,
          env,
        ),
      );
      assert.equal(started.workflowId, 'consumer-run');
      assert.equal(started.progress?.run, 'consumer-run', JSON.stringify(started.progress));
      const info = await t.client.workflow.getHandle('consumer-run').describe();
      assert.equal(info.type, 'septPipeline');
      assert.equal(info.taskQueue, 'sept-cpu');
      assert.equal(info.runId, started.runId);
      assert.equal(info.status.name, 'RUNNING');
      await t.client.workflow.getHandle('consumer-run').terminate('test done');
    } finally {
      // A terminated run's activities may still be running; the worker needs no drain here.
      await stopProcess(worker, 'SIGTERM', 5_000);
    }
  });
});
