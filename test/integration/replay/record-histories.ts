// Records the histories of one small septPipeline run and its child workflows into
// test/integration/replay/histories/<version>/ (the version in package.json), for the replay
// test, which replays the histories of every release against the current workflow code. Record
// once per release that changes workflow code (`npm run record-histories`); earlier releases'
// folders stay, since their runs may still be in flight when the new workers start.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { CPU_QUEUE } from '../../../lib/temporal/queues';
import type { septPipeline } from '../../../workflows/sept-pipeline';
import { givenEncoder, smallPipelineConfig } from '../../support/small-run';
import { tempDir } from '../../support/tmp';
import { startTestTemporal, withWorkers } from '../../support/temporal';

const { ensureTemporalCli } = require('../../../infra/temporal-cli.cjs') as { ensureTemporalCli: () => string };

const { version } = require('../../../package.json') as { version: string };
const RUN = 'replay';
/**
 * The pipeline and every child it starts (the selection embeds the target set in a child of its
 * own, and the deduplication embeds the pool with its copy detector in another).
 */
const WORKFLOWS = [RUN, `${RUN}/encoder`, `${RUN}/embed`, `${RUN}/dedup-embed`, `${RUN}/dedup`, `${RUN}/select`, `${RUN}/select/embed-target`, `${RUN}/pretrain`, `${RUN}/finetune`];

async function main(): Promise<void> {
  const temporal = await startTestTemporal();
  try {
    // Two shards per embedPool execution: the recorded embedding continues as new. With the pool's
    // deduplication (0.6.0), whose workflow runs only where a run asks for it, on a copy detector
    // of its own (0.7.0: the thumbnail encoder `sept copy-detector` writes).
    const detector = tempDir('replay-detector-');
    const config = await smallPipelineConfig(RUN, { embed: { shardsPerExecution: 2 }, dedup: { enabled: true, threshold: 0.99, encoder: await givenEncoder(detector) } });
    await withWorkers(temporal, async () => (await temporal.client.workflow.start<typeof septPipeline>('septPipeline', { taskQueue: CPU_QUEUE, workflowId: RUN, args: [config] })).result());
    const dir = join(__dirname, 'histories', version);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const id of WORKFLOWS) {
      // The CLI writes the JSON form that historyFromJSON reads (proto3 JSON, enum names).
      const json = execFileSync(ensureTemporalCli(), ['workflow', 'show', '--address', temporal.server.address, '--workflow-id', id, '--output', 'json'], { maxBuffer: 256 << 20 }).toString();
      const file = join(dir, `${id.replace(/\//g, '--')}.json`);
      writeFileSync(file, json);
      console.log(`recorded ${id}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events -> ${file}`);
    }
  } finally {
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
