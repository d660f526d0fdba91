// Starts a small SEPT run from code, prints its progress every few seconds, then its result.
//
//   sept dev                                  # in another terminal: dev server + workers
//   TEMPORAL_ADDRESS=localhost:7233 npx tsx examples/start-run.ts [run-name]
//
// The connection comes from Temporal's environment settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, mTLS, TEMPORAL_PROFILE), as for the CLI and the workers.
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { ConfigError, type PipelineProgress, startSeptRun } from 'septflow';

const POLL_MS = 5_000;

function describeProgress(p: PipelineProgress): string {
  const stages = Object.entries(p.stages)
    .map(([stage, t]) => `${stage}:${t.status}${t.seconds !== undefined ? ` ${Math.round(t.seconds)}s` : ''}`)
    .join('  ');
  const figures = Object.entries(p.figures)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}`)
    .join(' ');
  return `[${p.stage}] ${stages}${figures ? `  |  ${figures}` : ''}`;
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? `example-${Date.now().toString(36)}`;
  // A small run: MNIST digits as the pool, 10 labels per class, a short pre-training.
  const run = await startSeptRun({
    name,
    pool: { sources: [{ kind: 'demo', dataset: 'mnist', split: 'train' }] },
    target: { preset: 'mnist', labelsPerClass: 10 },
    retrieval: { budget: 2000, k: 20 },
    pretrain: { steps: 200, batchSize: 128 },
    finetune: { epochs: 5 },
  });
  console.log(`started ${run.workflowId} (run id ${run.runId})`);

  // Ctrl-C cancels the run (trainers checkpoint first); a second Ctrl-C leaves without waiting.
  process.once('SIGINT', () => {
    console.log('cancel requested; waiting for the run to stop (Ctrl-C again to leave it to the server)');
    void run.cancel();
    process.once('SIGINT', () => process.exit(130));
  });

  let finished = false;
  const outcome = run.result().finally(() => {
    finished = true;
  });
  // One query at a time: a query waits for a worker to answer it, so never let them pile up.
  const started = Date.now();
  const follow = (async () => {
    let previous = '';
    while (!finished) {
      await Promise.race([outcome.catch(() => undefined), new Promise((r) => setTimeout(r, POLL_MS))]);
      if (finished) break;
      const line = await run.progress().then(describeProgress, (err: Error) => `no progress yet (${err.message}): is a sept-cpu worker running?`);
      // Print what changed, and otherwise a sign of life every half minute.
      const elapsed = Math.round((Date.now() - started) / 1000);
      if (!finished && (line !== previous || elapsed % 30 < POLL_MS / 1000)) console.log(`${String(elapsed).padStart(5)}s ${line}`);
      previous = line;
    }
  })();
  try {
    const result = await outcome;
    console.log('metrics:', JSON.stringify(result.metrics));
    console.log('report:', result.report.markdown);
    console.log('outputs:', JSON.stringify(result.outputs, null, 2));
  } finally {
    await follow;
    await run.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else if (err instanceof WorkflowFailedError) console.error(`run ${err.cause instanceof CancelledFailure ? 'cancelled' : `failed: ${err.cause?.message ?? err.message}`}`);
  else console.error(err);
  process.exit(1);
});
