import { PIPELINE_STAGES } from '../lib/report/types';
import type { PipelineFigures, PipelineProgress } from './pipeline-types';

const percent = (v: number | null | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : undefined);
const count = (v: number | undefined) => (v === undefined ? undefined : v.toLocaleString('en-US'));

/** The figures a person looks for first, in the order the run produces them. */
function figureRows(f: PipelineFigures): [string, string | undefined][] {
  return [
    ['pool images', count(f.poolImages)],
    ['quarantined', count(f.quarantined)],
    ['subset', f.subsetSize === undefined ? undefined : `${count(f.subsetSize)} (${percent(f.subsetShare)} of the pool)`],
    ['kNN top-1 (pre-trained)', percent(f.knnTop1)],
    ['linear probe top-1 (pre-trained)', percent(f.linearProbeTop1)],
    ['top-1 (fine-tuned)', percent(f.top1)],
    ['encoder id', f.encoderId],
  ];
}

/** The run's current details as Markdown, which the Temporal UI shows on the workflow's page. */
export function runDetails(p: PipelineProgress): string {
  const position = p.stage === 'done' ? 'done' : `${p.stage} (${PIPELINE_STAGES.indexOf(p.stage) + 1} of ${PIPELINE_STAGES.length})`;
  const stages = PIPELINE_STAGES.map((s) => {
    const t = p.stages[s];
    return `| ${s} | ${t.status} | ${t.seconds === undefined ? '' : t.seconds.toFixed(0)} | ${t.workflowId ?? ''} |`;
  });
  const figures = figureRows(p.figures)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `| ${k} | ${v} |`);
  return [
    `**SEPT run ${p.run}**: ${position}`,
    '',
    '| stage | status | seconds | workflow |',
    '| --- | --- | --- | --- |',
    ...stages,
    ...(figures.length ? ['', '| figure | value |', '| --- | --- |', ...figures] : []),
  ].join('\n');
}
