import { count, percent } from '../format';
import { PIPELINE_STAGES, type PipelineStage, type StageTiming } from './stages';

/** Key figures of a run as they become known; the Temporal UI shows them as current details. */
export interface PipelineFigures {
  encoderId?: string;
  poolImages?: number;
  quarantined?: number;
  subsetSize?: number;
  /** Subset size / pool images. */
  subsetShare?: number;
  knnTop1?: number | null;
  linearProbeTop1?: number | null;
  top1?: number | null;
}

/** What the `progress` query of septPipeline returns: the stage, each stage's state, the figures so far. */
export interface PipelineProgress {
  run: string;
  stage: PipelineStage | 'done';
  stages: Record<PipelineStage, StageTiming>;
  figures: PipelineFigures;
}

/** A figure not known yet has no row, rather than an `n/a` one. */
const known = <T>(v: T | null | undefined, show: (v: T) => string) => (v === null || v === undefined ? undefined : show(v));

/** The figures a person looks for first, in the order the run produces them. */
function figureRows(f: PipelineFigures): [string, string | undefined][] {
  return [
    ['pool images', known(f.poolImages, count)],
    ['quarantined', known(f.quarantined, count)],
    ['subset', known(f.subsetSize, (size) => `${count(size)} (${percent(f.subsetShare)} of the pool)`)],
    ['kNN top-1 (pre-trained)', known(f.knnTop1, percent)],
    ['linear probe top-1 (pre-trained)', known(f.linearProbeTop1, percent)],
    ['top-1 (fine-tuned)', known(f.top1, percent)],
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
