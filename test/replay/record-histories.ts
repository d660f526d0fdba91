// Records the histories of one small septPipeline run and its child workflows into
// test/replay/histories/, for the replay test. Run it again (`npm run record-histories`) when a
// workflow change is meant to be incompatible with runs in flight, and say so in the change.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { CPU_QUEUE } from '../../lib/temporal/queues';
import { smallPipelineConfig } from '../pipeline/small-run';
import { startTestTemporal, withWorkers } from '../support/temporal';

const RUN = 'replay';
/** The pipeline and every child it starts (the selection embeds the target set in a child of its own). */
const WORKFLOWS = [RUN, `${RUN}/encoder`, `${RUN}/embed`, `${RUN}/select`, `${RUN}/select/embed-target`, `${RUN}/pretrain`, `${RUN}/finetune`];

async function main(): Promise<void> {
  const temporal = await startTestTemporal();
  try {
    // Two shards per embedPool execution: the recorded embedding continues as new.
    const config = await smallPipelineConfig(RUN, { embed: { shardsPerExecution: 2 } });
    await withWorkers(temporal, async () => (await temporal.client.workflow.start('septPipeline', { taskQueue: CPU_QUEUE, workflowId: RUN, args: [config] })).result());
    const dir = join(__dirname, 'histories');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const id of WORKFLOWS) {
      const history = await temporal.client.workflow.getHandle(id).fetchHistory();
      const file = join(dir, `${id.replace(/\//g, '--')}.json`);
      writeFileSync(file, `${historyToJSON(history)}\n`);
      console.log(`recorded ${id}: ${history.events?.length} events -> ${file}`);
    }
  } finally {
    await temporal.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
