import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { count } from '../format';

/** The Temporal UI shows a summary on one line; longer ones are cut here rather than refused there. */
const MAX_SUMMARY = 200;

function sourceLabel(source: SourceSpec): string {
  switch (source.kind) {
    case 'demo':
      return `${source.dataset}${source.split === 'all' ? '' : `/${source.split}`}`;
    case 'webdataset':
      return source.name ?? (Array.isArray(source.shards) ? `${source.shards.length} shards` : source.shards);
    case 'folder':
    case 'manifest':
      return source.name ?? source.path;
  }
}

/**
 * One line that says what a run is, for the Temporal UI (a workflow's or a schedule action's
 * `staticSummary`): `SEPT run nightly: pool fashion-mnist + mnist/train, target mnist/train (20/class), budget 8,000, simclr 600 steps`.
 */
export function runSummary(config: RunConfig): string {
  const perClass = config.target.labelsPerClass ? ` (${config.target.labelsPerClass}/class)` : '';
  const line = [
    `SEPT run ${config.name}: pool ${config.pool.sources.map(sourceLabel).join(' + ')}`,
    `target ${sourceLabel(config.target.train)}${perClass}`,
    config.retrieval.policy === 'topk-per-target' ? `top-${config.retrieval.k} per target` : `${config.retrieval.policy === 'budget' ? '' : `${config.retrieval.policy} `}budget ${count(config.retrieval.budget)}`,
    `${config.pretrain.method} ${config.pretrain.steps} steps`,
  ].join(', ');
  return line.length <= MAX_SUMMARY ? line : `${line.slice(0, MAX_SUMMARY - 1)}…`;
}
