// The workflow code a `sept-cpu` worker runs, as one webpack bundle. Bundling takes seconds of CPU
// (8 s on a loaded 2-core machine), so the build bundles once (infra/build.cjs runs this file on
// the compiled workflows: dist/workflow-bundle.js) and every worker loads that file; a worker
// running from sources edited since the last build bundles them itself, as before.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleOption } from '@temporalio/worker';
import { log } from '../lib/log';
import { projectRoot, runsFromSource } from '../lib/paths';
import { LOG_CONTEXT_INTERCEPTORS } from './log-context';

/** The workflow interceptor modules, bundled in: log context, and failures that say why (workflows/failure-message.ts). */
const WORKFLOW_INTERCEPTOR_MODULES = [...LOG_CONTEXT_INTERCEPTORS.workflowModules, require.resolve('../workflows/failure-message')];

/** The bundle's name in a build (dist/ of a checkout, or of the published package). */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/** Bundles the workflows this code was loaded with (sources or build), interceptors included. */
export async function bundleWorkflows(): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  return { code };
}

/**
 * The build's bundle when it holds the code this process runs: always from the build itself; from
 * the sources only when the checkout's dist/ is newer than every source (infra/build.cjs).
 */
function builtBundle(): string | undefined {
  const file = runsFromSource ? join(projectRoot, 'dist', WORKFLOW_BUNDLE_FILE) : resolve(__dirname, '..', WORKFLOW_BUNDLE_FILE);
  if (!existsSync(file)) return undefined;
  if (!runsFromSource) return file;
  const { buildCurrent } = require(join(projectRoot, 'infra', 'build.cjs')) as { buildCurrent(): boolean };
  return buildCurrent() ? file : undefined;
}

let code: Promise<WorkflowBundleOption> | undefined;

/** The workflow code for this process's `sept-cpu` workers: the build's bundle, else bundled here once. */
export function workflowCode(): Promise<WorkflowBundleOption> {
  code ??= (async () => {
    const codePath = builtBundle();
    if (codePath) return { codePath };
    log.info('bundling the workflows (no current build holds them: `npm run build` makes worker starts faster)');
    return bundleWorkflows();
  })();
  return code;
}

// `node dist/workers/workflow-bundle.js FILE`: how the build writes its bundle, whole or not at all
// (a worker may start meanwhile).
if (require.main === module) {
  const file = process.argv[2];
  bundleWorkflows().then(
    ({ code }) => {
      writeFileSync(`${file}.${process.pid}`, code);
      renameSync(`${file}.${process.pid}`, file);
    },
    (err: Error) => {
      console.error(`bundling the workflows failed: ${err.message}`);
      process.exit(1);
    },
  );
}
