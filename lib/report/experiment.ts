import type { DedupStats } from '../dedup/groups';
import { writeLocation } from '../storage/location';
import { type Block, type Inline, markdownTable, renderMarkdown } from './document';
import { NA, count, duration, percent, percentPoints, share, timestamp } from '../format';
import { byName } from './order';
import { ACCURACY_METRICS, reportedAccuracies, VALIDATION_METRIC } from './run-report';
import type { ExperimentReportInput, ExperimentRow } from './types';

type Arm = ExperimentRow['arm'];

/**
 * The arms from the baseline without pre-training to the whole pool, SEPT's subset between them.
 * `holdsTargetImages`: the arm pre-trains on the pool as configured, which holds the target's own
 * images wherever the pool does (the demo's holds the MNIST train split, validation split
 * included); every other arm's data excludes them.
 */
export const ARMS: readonly { arm: Arm; description: string; holdsTargetImages?: true }[] = [
  { arm: 'none', description: 'no pre-training' },
  { arm: 'random', description: 'random pool subset' },
  { arm: 'sept', description: 'SEPT subset' },
  { arm: 'diverse', description: 'SEPT subset, diverse policy' },
  { arm: 'cluster', description: 'cluster-drawn subset' },
  { arm: 'dedup', description: 'SEPT subset of the deduplicated pool' },
  { arm: 'pool', description: 'whole pool', holdsTargetImages: true },
];

export interface MetricSummary {
  /** Over the seeds that reported the metric; null when none did. */
  mean: number | null;
  /** Sample standard deviation (n - 1); null below two values. */
  std: number | null;
  n: number;
}

export interface ArmSummary {
  arm: Arm;
  description: string;
  seeds: number[];
  /** Mean over seeds (arms such as `random` may draw a different sample per seed). */
  pretrainImages: number;
  /** Images per source, summed over seeds: its shares are the arm's mean composition. */
  composition: Record<string, number>;
  /** Near-duplicates in the arm's data as a share of its images, over seeds; null where no row counted them. */
  duplicateShare: number | null;
  metrics: Record<string, MetricSummary>;
}

function summarize(values: number[]): MetricSummary {
  const n = values.length;
  if (!n) return { mean: null, std: null, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n };
}

/** Mean and spread of each accuracy per arm over seeds; arms in ARMS order, only those with rows. */
export function summarizeArms(rows: ExperimentRow[]): ArmSummary[] {
  return ARMS.flatMap(({ arm, description }) => {
    const of = rows.filter((r) => r.arm === arm);
    if (!of.length) return [];
    const composition: Record<string, number> = {};
    for (const r of of) for (const [source, n] of Object.entries(r.composition)) composition[source] = (composition[source] ?? 0) + n;
    const keys = [...new Set([...ACCURACY_METRICS.map((m) => m.key as string), ...of.flatMap((r) => Object.keys(r.metrics))])];
    const metrics = Object.fromEntries(
      keys.map((k) => [k, summarize(of.map((r) => r.metrics[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)))]),
    );
    return [
      {
        arm,
        description,
        seeds: [...new Set(of.map((r) => r.seed))].sort((a, b) => a - b),
        pretrainImages: of.reduce((a, r) => a + r.pretrainImages, 0) / of.length,
        duplicateShare: duplicateShare(of),
        composition: Object.fromEntries(Object.entries(composition).sort(([a], [b]) => byName(a, b))),
        metrics,
      },
    ];
  });
}

/** Duplicates over images, summed over the rows that counted them. */
function duplicateShare(rows: ExperimentRow[]): number | null {
  const counted = rows.filter((r) => r.duplicates !== undefined && r.pretrainImages > 0);
  if (!counted.length) return null;
  return counted.reduce((a, r) => a + r.duplicates!, 0) / counted.reduce((a, r) => a + r.pretrainImages, 0);
}

/** `60.0 ± 14.1` in percent; the mean alone for one seed; n/a when no seed reported it. */
export function meanAndSpread(m: MetricSummary | undefined): string {
  if (!m || m.mean === null) return NA;
  const mean = percentPoints(m.mean);
  return m.std === null ? mean : `${mean} ± ${percentPoints(m.std)}`;
}

function compositionText(composition: Record<string, number>): string {
  const total = Object.values(composition).reduce((a, b) => a + b, 0);
  if (!total) return '—';
  return Object.entries(composition)
    .map(([source, n]) => `${source} ${percent(n / total)}`)
    .join(', ');
}

const validated = (arms: ArmSummary[]) => arms.some((a) => (a.metrics[VALIDATION_METRIC.key]?.n ?? 0) > 0);

function resultsTable(arms: ArmSummary[], poolImages: number): Extract<Block, { kind: 'table' }> {
  const metrics = reportedAccuracies(validated(arms));
  const head = ['pre-training', 'images (share of pool)', 'composition by source', 'near-duplicates', ...metrics.map((m) => `${m.name} (%)`), 'seeds'];
  const rows: Inline[][] = arms.map((a) => [
    a.description,
    a.pretrainImages ? `${count(Math.round(a.pretrainImages))} (${percent(share(a.pretrainImages, poolImages))})` : '0',
    compositionText(a.composition),
    a.duplicateShare === null ? NA : percent(a.duplicateShare),
    ...metrics.map((m) => meanAndSpread(a.metrics[m.key])),
    String(a.seeds.length),
  ]);
  return { kind: 'table', head, rows, numeric: head.map((_, i) => i === 1 || i >= 3) };
}

/**
 * The arm a user would pick: the highest mean fine-tuned top-1 on the validation split, never on the
 * test set, among the arms whose pre-training data excludes the validation images (not the whole
 * pool: it may have pre-trained on them, without labels); undefined without a validation split.
 */
export function chosenByValidation(arms: ArmSummary[]): ArmSummary | undefined {
  const key = VALIDATION_METRIC.key;
  const eligible = new Set(ARMS.filter((a) => !a.holdsTargetImages).map((a) => a.arm));
  const candidates = arms.filter((a) => eligible.has(a.arm) && a.metrics[key]?.mean !== null && a.metrics[key]?.mean !== undefined);
  return candidates.reduce<ArmSummary | undefined>((best, a) => (best === undefined || a.metrics[key].mean! > best.metrics[key].mean! ? a : best), undefined);
}

function choiceText(arms: ArmSummary[]): string {
  const chosen = chosenByValidation(arms);
  if (!chosen) return 'No validation split (target.validationPerClass): nothing here is chosen, and no arm should be chosen by its test accuracy.';
  const excluded = arms.filter((a) => ARMS.find((d) => d.arm === a.arm)?.holdsTargetImages).map((a) => a.description);
  return (
    `Chosen by validation: ${chosen.description} (fine-tuned validation top-1 ${meanAndSpread(chosen.metrics[VALIDATION_METRIC.key])}); ` +
    `its test top-1 is ${meanAndSpread(chosen.metrics.top1)}. The test set chose nothing.` +
    (excluded.length ? ` Not eligible: ${excluded.join(', ')}, whose pre-training data may hold the validation images.` : '')
  );
}

/** The pool's deduplication that the dedup arm selected after and the near-duplicates column counts by. */
function dedupText(stats: DedupStats): string {
  const planted = stats.plantedCopies;
  return (
    `Threshold ${stats.threshold} on the retrieval encoder's vectors (${stats.path} self-join, ${stats.neighbours} neighbours a row): ` +
    `${count(stats.removed)} of the pool's ${count(stats.poolRows)} images removed (${percent(share(stats.removed, stats.poolRows))}), in ${count(stats.groups)} groups, the largest of ${count(stats.largestGroup)}.` +
    (planted
      ? ` Against the pool's ${count(planted.knownCopies)} planted copies: recall ${percent(planted.recall)} (${count(planted.copiesFound)} found in their original's group), ` +
        `precision ${percent(planted.precision)} (${count(planted.removedCorrectly)} of the ${count(planted.removed)} removed share their group with a relative).`
      : '')
  );
}

function perSeedTable(rows: ExperimentRow[]): Block {
  const metrics = reportedAccuracies(rows.some((r) => typeof r.metrics[VALIDATION_METRIC.key] === 'number'));
  const order = (arm: Arm) => ARMS.findIndex((a) => a.arm === arm);
  const sorted = [...rows].sort((a, b) => order(a.arm) - order(b.arm) || a.seed - b.seed);
  return {
    kind: 'table',
    head: ['arm', 'seed', 'pre-training images', ...metrics.map((m) => `${m.name} (%)`)],
    rows: sorted.map((r) => [r.arm, String(r.seed), count(r.pretrainImages), ...metrics.map((m) => percentPoints(r.metrics[m.key]))]),
    numeric: [false, true, true, ...metrics.map(() => true)],
  };
}

/**
 * Writes results.json (the rows and their per-arm summary) and results.md where `input.files` says;
 * returns their paths and the results table for the README. Same input, same bytes.
 */
export async function writeExperimentReport(input: ExperimentReportInput): Promise<{ markdown: string; json: string; table: string }> {
  const { json, markdown } = input.files;
  const arms = summarizeArms(input.rows);
  const resultsBlock = resultsTable(arms, input.poolImages);
  const table = `${markdownTable(resultsBlock.head, resultsBlock.rows, resultsBlock.numeric)}\n\n${choiceText(arms)}`;
  const results = {
    run: input.run,
    startedAt: input.startedAt,
    finishedAt: input.finishedAt,
    poolImages: input.poolImages,
    poolPerSource: input.poolPerSource,
    rows: input.rows,
    arms,
    chosenByValidation: chosenByValidation(arms)?.arm ?? null,
    dedup: input.dedup ?? null,
    config: input.config,
  };
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: `SEPT experiment: ${input.run}` },
    {
      kind: 'facts',
      rows: [
        ['started', timestamp(input.startedAt)],
        ['finished', timestamp(input.finishedAt)],
        ['duration', duration((input.finishedAt - input.startedAt) / 1000)],
        ['pool', `${count(input.poolImages)} images: ${compositionText(input.poolPerSource)}`],
      ],
    },
    { kind: 'heading', level: 2, text: 'Results' },
    {
      kind: 'paragraph',
      text: [
        'Accuracy on the target test set in percent (and, with a validation split, on it), mean ± sample standard deviation over seeds. Fine-tuned: encoder and linear head trained on the labeled target; kNN and linear probe: the frozen pre-trained encoder.',
      ],
    },
    resultsBlock,
    { kind: 'paragraph', text: [choiceText(arms)] },
    ...(input.dedup ? ([{ kind: 'heading', level: 2, text: 'Pool deduplication' }, { kind: 'paragraph', text: [dedupText(input.dedup)] }] satisfies Block[]) : []),
    { kind: 'heading', level: 2, text: 'Per seed' },
    perSeedTable(input.rows),
    { kind: 'heading', level: 2, text: 'Configuration' },
    { kind: 'code', language: 'json', text: JSON.stringify(input.config, null, 2) },
  ];
  await writeLocation(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeLocation(markdown, renderMarkdown(blocks));
  return { markdown, json, table };
}
