import { dirname, posix } from 'node:path';
import { histogram, lineChart } from './charts';
import { compositionChart, sourceShares } from './composition';
import { type Block, type Inline, renderHtml, renderMarkdown } from './document';
import { readLossCurve } from './events';
import { NA, count, duration, fixed, percent, share, timestamp } from '../format';
import { byName } from './order';
import { PIPELINE_STAGES } from '../pipeline/stages';
import { copyLocation, locationExists, locationIn, relativeLink, writeLocation } from '../storage/location';
import type { TargetClasses } from '../target/classes';
import type { RunReportFiles, RunReportInput } from './types';

/** The accuracies every run reports, in the order people read them. */
export const ACCURACY_METRICS = [
  { key: 'top1', name: 'fine-tuned top-1', model: 'pre-trained encoder + linear head, fine-tuned on the labeled target' },
  { key: 'knn_top1', name: 'kNN top-1', model: 'frozen pre-trained encoder, weighted kNN over the labeled target' },
  { key: 'linear_probe_top1', name: 'linear-probe top-1', model: 'frozen pre-trained encoder, logistic regression on the labeled target' },
] as const;

/** The fine-tuned model's top-1 on the validation split (target.validationPerClass): what settings are chosen by. */
export const VALIDATION_METRIC = { key: 'val_top1', name: 'fine-tuned validation top-1', model: 'the fine-tuned model, on the validation split (target.validationPerClass)' } as const;

/** The accuracies a report shows: the validation split's beside the test set's, when the run has one. */
export function reportedAccuracies(hasValidation: boolean): readonly { key: string; name: string; model: string }[] {
  return hasValidation ? [ACCURACY_METRICS[0], VALIDATION_METRIC, ...ACCURACY_METRICS.slice(1)] : ACCURACY_METRICS;
}

/** File-name-safe and stable, so a retried report overwrites the same figure files. */
function slugs(labels: string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const base = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'job';
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

interface Figure {
  file: string;
  caption: string;
  svg: string;
}

async function lossFigures(input: RunReportInput): Promise<Figure[]> {
  const names = slugs(input.trainerEvents.map((e) => e.label));
  // One chart per job: pre-training (contrastive) and fine-tuning (cross-entropy) losses differ in scale and steps.
  return Promise.all(
    input.trainerEvents.map(async (job, i) => {
      const curve = await readLossCurve(job.path);
      const title = `Training loss: ${job.label}`;
      return {
        file: `loss-${names[i]}.svg`,
        caption: `${job.label}: mean training loss between progress events, by optimizer step (${curve.length} points)`,
        svg: lineChart({ title, xLabel: 'step', yLabel: 'loss', series: [{ name: job.label, points: curve.map((p) => ({ x: p.step, y: p.loss })) }] }),
      };
    }),
  );
}

function accuracyTable(metrics: Record<string, number | null>): Block[] {
  const shown = reportedAccuracies(metrics[VALIDATION_METRIC.key] !== undefined);
  const known = new Set<string>(shown.map((m) => m.key));
  const rows: Inline[][] = shown.map((m) => [m.name, m.model, percent(metrics[m.key]), fixed(metrics[m.key], 4)]);
  const others = Object.keys(metrics).filter((k) => !known.has(k)).sort(byName);
  const blocks: Block[] = [{ kind: 'table', head: ['metric', 'model', 'accuracy', 'fraction'], rows, numeric: [false, false, true, true] }];
  if (others.length) {
    blocks.push({ kind: 'table', head: ['other metric', 'value'], rows: others.map((k) => [{ code: k }, fixed(metrics[k], 4)]), numeric: [false, true] });
  }
  return blocks;
}

function stageTable(input: RunReportInput): Block {
  return {
    kind: 'table',
    head: ['stage', 'status', 'seconds', 'started', 'child workflow'],
    rows: PIPELINE_STAGES.map((stage) => {
      const t = input.stages[stage];
      return [stage, t?.status ?? NA, fixed(t?.seconds, 1), timestamp(t?.startedAt), t?.workflowId ? { code: t.workflowId } : '—'];
    }),
    numeric: [false, false, true, false, false],
  };
}

const CLASS_RULES: Record<TargetClasses['rule'], string> = {
  'integer-labels': 'the integer labels themselves',
  'sorted-names': 'class names in sorted order, numbered from 0 (as torchvision ImageFolder)',
};

function targetBlocks({ target }: RunReportInput): Block[] {
  const { classes, trainPerLabel, testPerLabel } = target;
  const byIndex = Object.entries(classes.classToIndex).sort(([, a], [, b]) => a - b);
  return [
    { kind: 'heading', level: 2, text: 'Target classes' },
    {
      kind: 'facts',
      rows: [
        ['classes', `${count(byIndex.length)} (the trainer's class count: ${count(classes.numClasses)})`],
        ['class indices', CLASS_RULES[classes.rule]],
        ['recorded in', { code: target.classesFile }],
      ],
    },
    {
      kind: 'table',
      head: ['class index', 'class', 'labeled train images', 'test images'],
      rows: byIndex.map(([name, index]) => [String(index), name, count(trainPerLabel[name] ?? 0), count(testPerLabel[name] ?? 0)]),
      numeric: [true, false, true, true],
    },
  ];
}

function embedBlocks(input: RunReportInput): Block[] {
  const { embed } = input;
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Embedding' },
    {
      kind: 'facts',
      rows: [
        ['shards', count(embed.shards)],
        ['images embedded', count(embed.samplesEmbedded)],
        ['quarantined', count(embed.quarantined)],
      ],
    },
  ];
  const reasons = Object.entries(embed.quarantinedByReason).sort(([a, x], [b, y]) => y - x || byName(a, b));
  if (reasons.length) {
    blocks.push({ kind: 'table', head: ['quarantine reason', 'images'], rows: reasons.map(([r, n]) => [r, count(n)]), numeric: [false, true] });
  }
  return blocks;
}

function subsetBlocks(input: RunReportInput, figures: { composition: Figure; distances: Figure; contactSheet?: string }, linkOf: (file: string) => string): Block[] {
  const { stats, poolRows, manifest } = input.selection;
  const shares = sourceShares(stats.perSource, input.poolPerSource);
  const classes = Object.entries(stats.perTargetClass).sort(([a], [b]) => byName(a, b));
  const blocks: Block[] = [
    { kind: 'heading', level: 2, text: 'Pre-training subset' },
    {
      kind: 'facts',
      rows: [
        ['size', `${count(stats.size)} images (${percent(share(stats.size, poolRows))} of ${count(poolRows)} pool images)`],
        ['budget', stats.budget === undefined ? NA : count(stats.budget)],
        ['shortfall', count(stats.shortfall)],
        ['policy', stats.policy],
        ['search path', stats.path],
        ['duplicates of target test images removed (leakage guard)', count(stats.duplicatesRemoved)],
        ['test images whose every neighbour was a duplicate', count(stats.leakageSaturated)],
        ['target images dropped', count(stats.targetImagesDropped)],
        ['below minimum similarity', count(stats.belowMinSimilarity)],
        ['mean hit count (targets that retrieved each selected image)', fixed(stats.meanHitCount, 2)],
        ['manifest', { code: manifest }],
      ],
    },
    { kind: 'heading', level: 3, text: 'Composition by source' },
    {
      kind: 'table',
      head: ['source', 'selected', 'share of subset', 'pool images', 'share of pool', 'selected of source'],
      rows: shares.map((s) => [s.source, count(s.selected), percent(s.ofSubset), count(s.pool), percent(s.ofPool), percent(s.kept)]),
      numeric: [false, true, true, true, true, true],
    },
    { kind: 'figure', path: linkOf(figures.composition.file), caption: figures.composition.caption, svg: figures.composition.svg },
    { kind: 'heading', level: 3, text: 'By target class' },
    {
      kind: 'table',
      head: ['closest target class', 'selected', 'share of subset'],
      rows: classes.map(([c, n]) => [c === '' ? '(unlabeled)' : c, count(n), percent(share(n, stats.size))]),
      numeric: [false, true, true],
    },
    { kind: 'heading', level: 3, text: 'Distance to the closest target' },
    { kind: 'figure', path: linkOf(figures.distances.file), caption: figures.distances.caption, svg: figures.distances.svg },
    { kind: 'heading', level: 3, text: 'Contact sheet' },
  ];
  blocks.push(
    figures.contactSheet
      ? { kind: 'figure', path: figures.contactSheet, caption: 'target images (left of each row) and the pool images they retrieved' }
      : { kind: 'paragraph', text: ['No contact sheet for this run.'] },
  );
  return blocks;
}

/**
 * Writes the report of one septPipeline run: markdown, html (self-contained but for the contact
 * sheet PNG) and figures, where `input.files` says. Same input, same bytes: a retried report
 * activity changes nothing.
 */
export async function writeRunReport(input: RunReportInput): Promise<RunReportFiles> {
  const { markdown, html, figures: figuresDir } = input.files;
  // Figures are linked relative to the report, so a copied run folder reads the same.
  const linkOf = (file: string) => posix.join(relativeLink(dirname(markdown), figuresDir), file);
  const { stats } = input.selection;

  const composition: Figure = {
    file: 'composition.svg',
    caption: 'share of each source in the selected subset and in the pool',
    svg: compositionChart('Composition by source', sourceShares(stats.perSource, input.poolPerSource)),
  };
  const distances: Figure = {
    file: 'distance-histogram.svg',
    caption: `selected pool images by cosine distance to their closest target instance (bins of ${stats.distanceHistogram.binWidth})`,
    svg: histogram({
      title: 'Distance of selected images to their closest target',
      binWidth: stats.distanceHistogram.binWidth,
      counts: stats.distanceHistogram.counts,
      xLabel: 'cosine distance',
      yLabel: 'selected images',
    }),
  };
  const losses = await lossFigures(input);
  const svgs = [composition, distances, ...losses];
  const written: string[] = [];
  for (const f of svgs) {
    const path = locationIn(figuresDir, f.file);
    await writeLocation(path, f.svg);
    written.push(path);
  }
  let contactSheet: string | undefined;
  if (input.selection.contactSheet && (await locationExists(input.selection.contactSheet))) {
    const path = locationIn(figuresDir, 'contact-sheet.png');
    await copyLocation(input.selection.contactSheet, path);
    written.push(path);
    contactSheet = linkOf('contact-sheet.png');
  }

  const title = `SEPT run report: ${input.run}`;
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: title },
    {
      kind: 'facts',
      rows: [
        ['run', input.run],
        ['workflow', { code: input.workflowId }],
        ['started', timestamp(input.startedAt)],
        ['finished', timestamp(input.finishedAt)],
        ['duration', duration((input.finishedAt - input.startedAt) / 1000)],
      ],
    },
    { kind: 'heading', level: 2, text: 'Accuracy on the target task' },
    ...accuracyTable(input.metrics),
    { kind: 'heading', level: 2, text: 'Stages' },
    stageTable(input),
    { kind: 'heading', level: 2, text: 'Encoder' },
    {
      kind: 'facts',
      rows: [
        ['model', { code: input.encoder.model }],
        ['encoder id', { code: input.encoder.encoderId }],
        ['origin', input.encoder.trainedInRun ? 'trained in this run (self-supervised, on a random pool sample)' : 'configured'],
      ],
    },
    ...targetBlocks(input),
    ...embedBlocks(input),
    ...subsetBlocks(input, { composition, distances, contactSheet }, linkOf),
    { kind: 'heading', level: 2, text: 'Training' },
    ...(losses.length
      ? losses.map((f): Block => ({ kind: 'figure', path: linkOf(f.file), caption: f.caption, svg: f.svg }))
      : [{ kind: 'paragraph', text: ['No trainer event logs.'] } as Block]),
    { kind: 'heading', level: 2, text: 'Configuration' },
    { kind: 'code', language: 'json', text: JSON.stringify(input.config, null, 2) },
  ];

  await writeLocation(markdown, renderMarkdown(blocks));
  await writeLocation(html, renderHtml(title, blocks));
  return { markdown, html, figures: written };
}
