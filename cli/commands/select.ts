import type { Command } from 'commander';
import { explainingFailure } from '../../lib/client/failure';
import { loadRunConfig } from '../../lib/config/load';
import { seconds } from '../../lib/format';
import { subsetShardPaths } from '../../lib/selection/subset-shards';
import { connectClient, connectConfig, workflowUiUrl } from '../../lib/temporal/connection';
import type { SelectSubsetResult } from '../../workflows/select-subset';
import { startRun } from './start';

/** What a person wants to see after a selection: how big, from where, what was removed, where it went. */
export function formatSelection(r: SelectSubsetResult): string {
  const s = r.stats;
  const shards = subsetShardPaths(r.outputs.shards);
  const lines = [
    `subset: ${s.size} images (${s.policy}${s.budget !== undefined ? `, budget ${s.budget}` : ''}${s.shortfall ? `, ${s.shortfall} short: ${s.policy === 'cluster' ? 'clusters ran out of images' : 'raise retrieval.k'}` : ''})`,
    `search: ${r.plan.path} over ${r.plan.poolRows} pool vectors for ${r.plan.targets.train} train + ${r.plan.targets.test} test targets ` +
      `(estimated exact ${seconds(r.plan.cost.exactSeconds, 1)}, ann ${seconds(r.plan.cost.annSeconds, 1)})`,
    `per source: ${Object.entries(s.perSource).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `per target class: ${Object.entries(s.perTargetClass).map(([k, v]) => `${k || '(none)'} ${v}`).join(', ')}`,
    `leakage guard: ${s.duplicatesRemoved} pool duplicates of target test images removed${s.leakageSaturated ? ` (${s.leakageSaturated} test images saturated: raise retrieval.k)` : ''}`,
    `selection table: ${r.selectionTable}`,
    `manifest: ${r.outputs.manifest}`,
    `shards: ${shards.length} (${r.outputs.samples} samples) in ${shards[0]?.replace(/\/[^/]*$/, '') ?? '-'}`,
    `stats: ${r.outputs.stats}`,
  ];
  if (r.outputs.contactSheet) lines.push(`contact sheet: ${r.outputs.contactSheet}`);
  return lines.join('\n');
}

export function registerSelect(program: Command): void {
  program
    .command('select')
    .description('select the task-specific subset on an already embedded pool (the selectSubset workflow), and wait for it')
    .requiredOption('-c, --config <file>', 'run configuration (.json, .yaml) naming pool and target; {"demo": true} for the demo\'s')
    .option('--no-wait', 'start the workflow and return')
    .action(async (opts: { config: string; wait: boolean }) => {
      const config = await loadRunConfig(opts.config);
      const { workflowId, runId } = await startRun('selectSubset', config);
      console.log(`started selectSubset ${workflowId}`);
      console.log(workflowUiUrl(connectConfig().namespace, workflowId));
      if (!opts.wait) return;
      const client = await connectClient();
      try {
        const result = (await explainingFailure(client, { workflowType: 'selectSubset', workflowId }, client.workflow.getHandle(workflowId, runId).result())) as SelectSubsetResult;
        console.log(formatSelection(result));
      } finally {
        await client.connection.close();
      }
    });
}
