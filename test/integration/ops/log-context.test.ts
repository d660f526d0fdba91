// Worker log lines carry the workflow id, the SEPT run name and stage, and for shard work the shard
// (workflows/log-context.ts, workers/log-context.ts): the stages of a septPipeline (its children and
// select's embed-target grandchild, whose own config is named `<run>-target`) and a standalone
// embedPool that continues as new. Logs go through pino as a worker's do (PinoTemporalLogger), at
// debug level so that the SDK's own activity and workflow lines are there to check.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { RunConfigInput } from '../../../lib/config/schema';
import { demoShards } from '../../../lib/demo/materialize';
import { Embedder } from '../../../lib/embed/embedder';
import { DEMO_CNN, ensureTestEncoder } from '../../../lib/encoder/test-encoders';
import { PinoTemporalLogger } from '../../../lib/temporal/logger';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { embedPool } from '../../../workflows/embed-pool';
import { pipelineProgressQuery } from '../../../workflows/queries';
import type { septPipeline } from '../../../workflows/sept-pipeline';
import { demoEmbedConfig, fashionShards } from '../../support/embedding';
import { useTestTemporal, withWorkers } from '../../support/temporal';
import { tempDir } from '../../support/tmp';

type Line = Record<string, unknown>;

describe('worker log lines carry workflow id, run, stage and shard', () => {
  const lines: Line[] = [];
  const json = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
  const temporal = useTestTemporal({ logger: new PinoTemporalLogger(json.child({ queue: 'cpu' })) });
  after(() => Embedder.closeAll());

  /** Activity lines of a workflow; "Activity started" is written before interceptors see the headers (README). */
  const activityLines = (workflowId: string) => lines.filter((l) => l.workflowId === workflowId && l.activityType && l.msg !== 'Activity started');
  /** The SDK's workflow lifecycle lines after "Workflow started" (written before the workflow's arguments are known). */
  const workflowLines = (workflowId: string) => lines.filter((l) => l.workflowId === workflowId && !l.activityType && l.workflowType && l.msg !== 'Workflow started');

  function assertContext(workflowId: string, run: string, stage: string | RegExp): Line[] {
    const own = [...activityLines(workflowId), ...workflowLines(workflowId)];
    assert.ok(own.length > 0, `log lines of ${workflowId}`);
    for (const l of own) {
      const where = `${workflowId}: ${JSON.stringify(l)}`;
      assert.equal(l.run, run, where);
      if (typeof stage === 'string') assert.equal(l.stage, stage, where);
      else assert.match(String(l.stage), stage, where);
    }
    return own;
  }

  /** embedShards lines name their shard (one here), commitShards lines their shards (`first..last (n)` or one id); ids are `<source>/<shard>`. */
  function assertShards(workflowId: string, source: RegExp): void {
    const embedded = activityLines(workflowId).filter((l) => l.activityType === 'embedShards');
    assert.ok(embedded.length > 0, `embedShards lines of ${workflowId}`);
    for (const l of embedded) assert.match(String(l.shard), new RegExp(`^${source.source}/`), JSON.stringify(l));
    const commits = activityLines(workflowId).filter((l) => l.activityType === 'commitShards');
    assert.ok(commits.length > 0, `commitShards lines of ${workflowId}`);
    for (const l of commits) assert.match(String(l.shards), new RegExp(`^${source.source}/`), JSON.stringify(l));
  }

  it('a pipeline: its stages and their children, by the header the pipeline sends', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const config: RunConfigInput = {
      name: 'logs',
      encoder: { model: await ensureTestEncoder(DEMO_CNN, join(dir, 'encoders')), batchSize: 128, threads: 1 },
      pool: { sources: [{ kind: 'webdataset', name: 'fashion', shards: await fashionShards(1) }] },
      target: {
        train: { kind: 'webdataset', name: 'digits', shards: (await demoShards('mnist', 'train')).slice(0, 1) },
        test: { kind: 'webdataset', name: 'digits-test', shards: (await demoShards('mnist', 'test')).slice(0, 1) },
        labelsPerClass: 5,
      },
      retrieval: { budget: 100, k: 20 },
      store: { uri: join(dir, 'lancedb') },
      outputDir: join(dir, 'runs'),
    };
    // The sept-cpu side only: once the pretrain stage waits for a trainer on sept-gpu, embed and select are done.
    await withWorkers(
      temporal,
      async () => {
        const handle = await temporal.client.workflow.start<typeof septPipeline>('septPipeline', { taskQueue: CPU_QUEUE, workflowId: 'logs', args: [config] });
        let settled = false;
        const result = handle.result().finally(() => (settled = true));
        result.catch(() => undefined);
        let stage = '';
        while (!settled && !['pretrain', 'finetune', 'report', 'done'].includes(stage)) {
          await new Promise((r) => setTimeout(r, 500));
          stage = (await handle.query(pipelineProgressQuery).catch(() => undefined))?.stage ?? stage;
        }
        if (!settled) await handle.terminate('the test needs the embed and select stages only');
      },
      ['cpu'],
    );

    assertContext('logs', 'logs', /^(pipeline|embed|select|pretrain)$/);
    assert.ok(activityLines('logs').some((l) => l.activityType === 'checkRunInputs' && l.stage === 'pipeline'), 'checkRunInputs, before the first stage');
    assert.ok(activityLines('logs').some((l) => l.activityType === 'findStageRecord' && l.stage === 'select'), 'the select stage record');
    const embed = assertContext('logs/embed', 'logs', 'embed');
    assert.ok(embed.some((l) => l.msg === 'Workflow completed'), 'the workflow\'s own lines too');
    assertShards('logs/embed', /fashion/);
    assertContext('logs/select', 'logs', 'select');
    // The grandchild's own config is named logs-target: the run comes from the header.
    assertContext('logs/select/embed-target', 'logs', 'select');
    assertShards('logs/select/embed-target', /digits(-test)?/);
  });

  it('a standalone embedPool: the run from its config, the stage from its type, across continue-as-new', { timeout: 180_000 }, async () => {
    const config = await demoEmbedConfig(tempDir(), await fashionShards(2), { embed: { shardsPerExecution: 1 } });
    const result = await withWorkers(
      temporal,
      () => temporal.client.workflow.execute<typeof embedPool>('embedPool', { taskQueue: CPU_QUEUE, workflowId: 'logs-standalone', args: [config] }),
      ['cpu'],
    );
    assert.equal(result.shards, 2);

    const own = assertContext('logs-standalone', config.name, 'embed');
    assert.ok(own.some((l) => l.msg === 'Workflow continued as new'), 'the first execution continued as new');
    const runIds = new Set(activityLines('logs-standalone').map((l) => l.workflowRunId));
    assert.equal(runIds.size, 2, 'activity lines of both executions');
    assertShards('logs-standalone', /fashion-mnist/);
    for (const type of ['embedShards', 'commitShards']) console.log(JSON.stringify(activityLines('logs-standalone').find((l) => l.activityType === type)));
  });
});
