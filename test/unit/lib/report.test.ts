import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseRunConfig } from '../../../lib/config/validate';
import { barChart, histogram, lineChart } from '../../../lib/report/charts';
import { lossCurve, readLossCurve } from '../../../lib/report/events';
import type { DedupStats } from '../../../lib/dedup/groups';
import { chosenByValidation, summarizeArms, writeExperimentReport } from '../../../lib/report/experiment';
import { writeRunReport } from '../../../lib/report/run-report';
import { niceScale } from '../../../lib/report/svg';
import type { ExperimentRow, RunReportInput } from '../../../lib/report/types';
import { RunLayout } from '../../../lib/run-layout';
import { tempDir } from '../../support/tmp';

/** Tags must nest and close, and no `<` may be left in text: what an XML parser would reject first. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(xml))) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else assert.equal(stack.pop(), name, `</${name}> closes <${stack.at(-1) ?? 'nothing'}>`);
  }
  assert.deepEqual(stack, [], 'unclosed tags');
  assert.doesNotMatch(xml.replace(tag, ''), /[<>]/, 'a raw < or > outside tags');
  assert.doesNotMatch(xml, /&(?!(amp|lt|gt|quot|apos);)/, 'an unescaped &');
}

const progress = (step: number, loss: number | null, attempt: number, stage = 'pretrain') =>
  JSON.stringify({ event: 'progress', stage, epoch: 0, step, total_steps: 60, loss, lr: 0.001, images_per_s: 300, at: 1_700_000_000_000 + step, attempt });

// Attempt 1 logs steps 10..40 and dies after the checkpoint at step 20; attempt 2 resumes there and
// logs 30..60 again with different losses; the file ends with a line torn by a kill.
const resumedEvents = [
  progress(10, 5, 1),
  progress(20, 4, 1),
  JSON.stringify({ event: 'checkpoint', path: '/c/checkpoint-00000020.pt', step: 20, at: 1, attempt: 1 }),
  progress(30, 3.5, 1),
  progress(40, 3.4, 1),
  progress(30, 3.1, 2),
  progress(40, 2.9, 2),
  progress(50, 2.5, 2),
  progress(60, 2.2, 2),
  JSON.stringify({ event: 'artifact', kind: 'pretrained_checkpoint', path: '/c/checkpoint-00000060.pt', at: 2, attempt: 2 }),
  '{"event":"progress","stage":"pretrain","epoch":0,"step":70,"lo',
].join('\n');

describe('trainer event logs', () => {
  it('keeps one point per step, the latest attempt winning, and ignores a torn last line', () => {
    assert.deepEqual(lossCurve(resumedEvents), [
      { step: 10, loss: 5 },
      { step: 20, loss: 4 },
      { step: 30, loss: 3.1 },
      { step: 40, loss: 2.9 },
      { step: 50, loss: 2.5 },
      { step: 60, loss: 2.2 },
    ]);
  });

  it('orders by attempt even when a zombie attempt wrote after its retry', () => {
    const interleaved = [progress(10, 5, 1), progress(20, 4.5, 2), progress(20, 9, 1), progress(30, 4, 2)].join('\n');
    assert.deepEqual(lossCurve(interleaved), [
      { step: 10, loss: 5 },
      { step: 20, loss: 4.5 },
      { step: 30, loss: 4 },
    ]);
  });

  it('skips evaluate progress (null loss) and reads a missing file as an empty curve', async () => {
    assert.deepEqual(lossCurve([progress(1, null, 1, 'evaluate'), progress(2, null, 1, 'evaluate')].join('\n')), []);
    assert.deepEqual(await readLossCurve(join(tempDir(), 'missing', 'events.jsonl')), []);
  });
});

describe('svg charts', () => {
  it('rounds axis ranges to readable ticks', () => {
    assert.deepEqual(niceScale(0.13, 4.87).ticks, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(niceScale(0, 0.6).ticks, [0, 0.2, 0.4, 0.6]);
    assert.deepEqual(niceScale(0, 0.3, 3).ticks, [0, 0.1, 0.2, 0.3], 'no float noise such as 0.30000000000000004');
    const constant = niceScale(3, 3);
    assert.ok(constant.min < 3 && constant.max > 3);
  });

  it('escapes labels and stays well-formed', () => {
    const bars = barChart({ title: 'Composition & more', categories: ['a<b', 'mnist'], series: [{ name: 'subset "x"', values: [90, 10] }, { name: 'pool', values: [10, 90] }], valueLabel: '%', unit: '%' });
    assertWellFormed(bars);
    assert.match(bars, />a&lt;b</);
    assert.match(bars, /Composition &amp; more/);
    assert.match(bars, /90\.0%/);
    assert.equal((bars.match(/<rect /g) ?? []).length, 1 + 4 + 2, 'background, 4 bars, 2 legend keys');

    const lines = lineChart({ title: 'loss', xLabel: 'step', yLabel: 'loss', series: [{ name: 'pre<train', points: [{ x: 1, y: 2 }, { x: 2, y: 1 }] }, { name: 'one', points: [{ x: 1, y: 1.5 }] }] });
    assertWellFormed(lines);
    assert.equal((lines.match(/<polyline /g) ?? []).length, 1);
    assert.equal((lines.match(/<circle /g) ?? []).length, 1);
    assert.match(lines, /pre&lt;train/);

    const empty = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [] }] });
    assertWellFormed(empty);
    assert.match(empty, /no data/);

    const hist = histogram({ title: 'd', binWidth: 0.05, counts: [0, 3, 7, 2], xLabel: 'cosine distance', yLabel: 'images' });
    assertWellFormed(hist);
    assert.equal((hist.match(/<rect [^>]*fill="#0072B2"/g) ?? []).length, 3, 'one bar per non-empty bin');
  });
});

/** A run folder under a fresh output folder, created. */
function runFolder(): RunLayout {
  const run = new RunLayout(tempDir(), 'demo');
  mkdirSync(run.dir, { recursive: true });
  return run;
}

function runInput(run: RunLayout, contactSheet?: string): RunReportInput {
  const runDir = run.dir;
  const stage = (seconds: number, workflowId?: string) => ({ status: 'done' as const, seconds, startedAt: 1_700_000_000_000, workflowId });
  return {
    run: 'demo<1>',
    workflowId: 'sept-demo',
    files: run.report,
    config: parseRunConfig({ demo: true }),
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_000_000 + 3_723_000,
    stages: {
      encoder: { status: 'skipped' },
      embed: stage(100, 'demo/embed'),
      select: stage(20.5, 'demo/select'),
      pretrain: stage(2000, 'demo/pretrain'),
      finetune: stage(500, 'demo/finetune'),
      report: { status: 'running' },
    },
    encoder: { model: '/models/encoder.onnx', encoderId: 'enc-abc', trainedInRun: false },
    embed: { shards: 12, samplesEmbedded: 9_998, quarantined: 2, quarantinedByReason: { undecodable: 2 } },
    poolPerSource: { mnist: 1_000, 'fashion-mnist': 9_000 },
    selection: {
      stats: {
        size: 100,
        policy: 'budget',
        budget: 100,
        shortfall: 0,
        path: 'exact',
        perSource: { mnist: 90, 'fashion-mnist': 10 },
        perTargetClass: { '10': 5, '2': 45, '1': 50 },
        duplicatesRemoved: 3,
        leakageSaturated: 0,
        targetImagesDropped: 0,
        belowMinSimilarity: 0,
        distanceHistogram: { binWidth: 0.05, counts: [10, 60, 30] },
        meanHitCount: 1.75,
      },
      poolRows: 10_000,
      contactSheet,
      manifest: '/runs/demo/subset/manifest.json',
    },
    metrics: { top1: 0.9512, knn_top1: 0.8771, linear_probe_top1: null },
    trainerEvents: [
      { label: 'pretrain', path: join(runDir, 'events-pretrain.jsonl') },
      { label: 'finetune', path: join(runDir, 'no-such-events.jsonl') },
    ],
    target: {
      classes: { rule: 'sorted-names', classToIndex: { 'T-shirt': 0, bag: 1, sandal: 2 }, numClasses: 3 },
      classesFile: join(runDir, 'target', 'classes.json'),
      trainPerLabel: { sandal: 10, bag: 10, 'T-shirt': 9 },
      testPerLabel: { sandal: 5, bag: 4 },
    },
  };
}

describe('run report', () => {
  it('writes markdown, self-contained html and figures with the right numbers', async () => {
    const run = runFolder();
    const dir = run.dir;
    const sheet = join(dir, 'sheet.png');
    writeFileSync(sheet, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    writeFileSync(join(dir, 'events-pretrain.jsonl'), resumedEvents);
    const files = await writeRunReport(runInput(run, sheet));

    assert.equal(files.markdown, join(dir, 'report.md'));
    assert.equal(files.html, join(dir, 'report.html'));
    assert.deepEqual(
      files.figures.map((f) => f.slice(dir.length + 1)).sort(),
      ['figures/composition.svg', 'figures/contact-sheet.png', 'figures/distance-histogram.svg', 'figures/loss-finetune.svg', 'figures/loss-pretrain.svg'],
    );
    for (const f of files.figures) assert.ok(existsSync(f), f);
    for (const f of files.figures.filter((f) => f.endsWith('.svg'))) assertWellFormed(readFileSync(f, 'utf8'));

    const html = readFileSync(files.html, 'utf8');
    const md = readFileSync(files.markdown, 'utf8');
    // Accuracies, and n/a for the null linear probe.
    assert.match(html, /<td>fine-tuned top-1<\/td><td>[^<]*<\/td><td class="num">95\.1%<\/td>/);
    assert.match(html, /<td>kNN top-1<\/td><td>[^<]*<\/td><td class="num">87\.7%<\/td>/);
    assert.match(html, /<td>linear-probe top-1<\/td><td>[^<]*<\/td><td class="num">n\/a<\/td>/);
    assert.match(md, /\| linear-probe top-1 \| [^|]* \| n\/a \| n\/a \|/);
    // 90 of 100 selected are mnist, which is 1,000 of 10,000 pool images; fashion the reverse.
    assert.match(html, /<tr><td>mnist<\/td><td class="num">90<\/td><td class="num">90\.0%<\/td><td class="num">1,000<\/td><td class="num">10\.0%<\/td><td class="num">9\.0%<\/td><\/tr>/);
    assert.match(html, /<tr><td>fashion-mnist<\/td><td class="num">10<\/td><td class="num">10\.0%<\/td><td class="num">9,000<\/td><td class="num">90\.0%<\/td><td class="num">0\.1%<\/td><\/tr>/);
    assert.match(md, /\| mnist \| 90 \| 90\.0% \| 1,000 \| 10\.0% \| 9\.0% \|/);
    // Classes in numeric order.
    assert.match(md, /\| 1 \| 50 \| 50\.0% \|\n\| 2 \| 45 \| 45\.0% \|\n\| 10 \| 5 \| 5\.0% \|/);
    // The target's classes by index, with their images; how they were numbered.
    assert.match(md, /\| 0 \| T-shirt \| 9 \| 0 \|\n\| 1 \| bag \| 10 \| 4 \|\n\| 2 \| sandal \| 10 \| 5 \|/);
    assert.match(html, /class names in sorted order, numbered from 0/);
    assert.match(md, /target\/classes\.json/);
    // Escaped run name, inline SVGs, the PNG by relative path, the complete config.
    assert.match(html, /<h1>SEPT run report: demo&lt;1&gt;<\/h1>/);
    assert.doesNotMatch(html, /demo<1>/);
    assert.match(md, /SEPT run report: demo\\<1\\>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 4);
    assert.match(html, /<img src="figures\/contact-sheet\.png"/);
    assert.match(md, /!\[[^\]]*\]\(figures\/composition\.svg\)/);
    assert.match(md, /!\[[^\]]*\]\(figures\/contact-sheet\.png\)/);
    assert.match(md, /"leakageGuard": \{/);
    assert.match(md, /duration\*\*: 1h 02m 03s/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no external resources');
    // The loss chart plots the resumed curve: 6 points.
    const loss = readFileSync(join(dir, 'figures', 'loss-pretrain.svg'), 'utf8');
    assert.equal((loss.match(/<polyline points="([^"]*)"/)?.[1] ?? '').split(' ').length, 6);
  });

  it('leaves the same bytes when written again, and shows no contact sheet when there is none', async () => {
    const run = runFolder();
    const dir = run.dir;
    const first = await writeRunReport(runInput(run, join(dir, 'missing.png')));
    const read = () => [first.markdown, first.html, ...first.figures].map((f) => readFileSync(f));
    const before = read();
    const second = await writeRunReport(runInput(run, join(dir, 'missing.png')));
    assert.deepEqual(second, first);
    assert.deepEqual(read(), before);
    assert.ok(!existsSync(join(dir, 'figures', 'contact-sheet.png')));
    assert.match(readFileSync(first.markdown, 'utf8'), /No contact sheet/);
  });
});

describe('experiment report', () => {
  const row = (arm: ExperimentRow['arm'], seed: number, top1: number | null, knn: number | null, images = 1_000): ExperimentRow => ({
    arm,
    seed,
    pretrainImages: arm === 'none' ? 0 : images,
    composition: arm === 'none' ? {} : arm === 'sept' ? { mnist: 900, 'fashion-mnist': 100 } : { mnist: 100, 'fashion-mnist': 900 },
    metrics: { top1, knn_top1: knn, linear_probe_top1: null },
  });
  const counted = (r: ExperimentRow, duplicates: number): ExperimentRow => ({ ...r, duplicates });
  // Duplicates counted for the sept seeds and the pool; the random row is of an experiment that counted none.
  const rows = [counted(row('sept', 1, 0.5, 0.8), 50), counted(row('pool', 0, 0.9, 0.85, 10_000), 1_000), row('none', 0, 0.4, null), counted(row('sept', 0, 0.7, 0.9), 30), row('random', 0, 0.6, 0.7)];

  it('aggregates mean and sample std over seeds, arms in order', () => {
    const arms = summarizeArms(rows);
    assert.deepEqual(arms.map((a) => a.arm), ['none', 'random', 'sept', 'pool']);
    const sept = arms[2];
    assert.deepEqual(sept.seeds, [0, 1]);
    assert.ok(Math.abs(sept.metrics.top1.mean! - 0.6) < 1e-12);
    assert.ok(Math.abs(sept.metrics.top1.std! - Math.SQRT2 / 10) < 1e-12);
    assert.deepEqual(sept.metrics.linear_probe_top1, { mean: null, std: null, n: 0 });
    assert.equal(arms[0].metrics.top1.std, null, 'one seed has no sample std');
  });

  it('writes results.md and results.json and returns the README table', async () => {
    const input = { run: 'exp', files: new RunLayout(tempDir(), 'exp').experiment, config: parseRunConfig({ demo: true, name: 'exp' }), poolImages: 10_000, poolPerSource: { mnist: 1_000, 'fashion-mnist': 9_000 }, rows, startedAt: 0, finishedAt: 90_000 };
    const out = await writeExperimentReport(input);
    const lines = out.table.split('\n');
    assert.equal(lines.length, 2 + 4 + 2);
    assert.match(lines[7], /^No validation split \(target\.validationPerClass\): nothing here is chosen/);
    assert.match(lines[2], /^\| no pre-training \| 0 \| — \| n\/a \| 40\.0 \| n\/a \| n\/a \| 1 \|$/);
    assert.match(lines[3], /^\| random pool subset \| 1,000 \(10\.0%\) \| fashion-mnist 90\.0%, mnist 10\.0% \| n\/a \| 60\.0 \| 70\.0 \| n\/a \| 1 \|$/);
    // Near-duplicates: (50 + 30) of the two seeds' 2,000 images.
    assert.match(lines[4], /^\| SEPT subset \| 1,000 \(10\.0%\) \| fashion-mnist 10\.0%, mnist 90\.0% \| 4\.0% \| 60\.0 ± 14\.1 \| 85\.0 ± 7\.1 \| n\/a \| 2 \|$/);
    assert.match(lines[5], /^\| whole pool \| 10,000 \(100\.0%\) \| [^|]+ \| 10\.0% \|/);
    const json = JSON.parse(readFileSync(out.json, 'utf8'));
    assert.equal(json.rows.length, 5);
    assert.deepEqual(json.arms.map((a: { arm: string }) => a.arm), ['none', 'random', 'sept', 'pool']);
    const md = readFileSync(out.markdown, 'utf8');
    assert.ok(md.includes(out.table), 'results.md contains the table');
    assert.doesNotMatch(md, /Pool deduplication/, 'no dedup stats, no dedup section');
    assert.equal(json.dedup, null);

    const before = [readFileSync(out.json), readFileSync(out.markdown)];
    assert.deepEqual(await writeExperimentReport(input), out);
    assert.deepEqual([readFileSync(out.json), readFileSync(out.markdown)], before);
  });

  it('with a validation split: its column beside the test top-1, and the arm chosen by it, not by the test set', async () => {
    const validated = (r: ExperimentRow, val: number): ExperimentRow => ({ ...r, metrics: { ...r.metrics, val_top1: val } });
    // SEPT has the best test top-1, random the best validation top-1 of the eligible arms: random is
    // chosen. The whole pool, better still on validation, may have pre-trained on the validation images.
    const withVal = [validated(row('none', 0, 0.4, null), 0.41), validated(row('random', 0, 0.6, 0.7), 0.8), validated(row('sept', 0, 0.9, 0.9), 0.7), validated(row('sept', 1, 0.9, 0.9), 0.72), validated(row('pool', 0, 0.5, 0.5), 0.95)];
    assert.equal(chosenByValidation(summarizeArms(withVal))?.arm, 'random');
    assert.equal(chosenByValidation(summarizeArms(rows)), undefined, 'no validation split, no choice');
    const input = { run: 'exp', files: new RunLayout(tempDir(), 'exp').experiment, config: parseRunConfig({ demo: true, name: 'exp' }), poolImages: 10_000, poolPerSource: { mnist: 1_000, 'fashion-mnist': 9_000 }, rows: withVal, startedAt: 0, finishedAt: 1 };
    const out = await writeExperimentReport(input);
    const lines = out.table.split('\n');
    assert.match(lines[0], /\| fine-tuned top-1 \(%\) \| fine-tuned validation top-1 \(%\) \| kNN top-1 \(%\) \|/);
    assert.match(lines[4], /^\| SEPT subset \| [^|]+ \| [^|]+ \| n\/a \| 90\.0 ± 0\.0 \| 71\.0 ± 1\.4 \| 90\.0 ± 0\.0 \| n\/a \| 2 \|$/);
    assert.equal(
      lines.at(-1),
      'Chosen by validation: random pool subset (fine-tuned validation top-1 80.0); its test top-1 is 60.0. The test set chose nothing. Not eligible: whole pool, whose pre-training data may hold the validation images.',
    );
    assert.equal(JSON.parse(readFileSync(out.json, 'utf8')).chosenByValidation, 'random');
    assert.match(readFileSync(out.markdown, 'utf8'), /\| random \| 0 \| 1,000 \| 60\.0 \| 80\.0 \| 70\.0 \| n\/a \|/);
  });

  it("shows the pool's deduplication the near-duplicates column counts by, with its recall and precision on planted copies", async () => {
    const dedup: DedupStats = {
      groupsTable: 'dedup_x',
      threshold: 0.99,
      neighbours: 16,
      path: 'exact',
      poolRows: 10_000,
      groups: 40,
      removed: 2_500,
      largestGroup: 300,
      reused: false,
      plantedCopies: { recall: 0.25, precision: 0.1, knownCopies: 200, copiesFound: 50, removed: 2_500, removedCorrectly: 250 },
    };
    const input = { run: 'exp', files: new RunLayout(tempDir(), 'exp').experiment, config: parseRunConfig({ demo: true, name: 'exp' }), poolImages: 10_000, poolPerSource: { mnist: 10_000 }, rows, startedAt: 0, finishedAt: 1, dedup };
    const out = await writeExperimentReport(input);
    const md = readFileSync(out.markdown, 'utf8');
    assert.match(md, /## Pool deduplication\n\nThreshold 0\.99 on the retrieval encoder's vectors \(exact self-join, 16 neighbours a row\): 2,500 of the pool's 10,000 images removed \(25\.0%\), in 40 groups, the largest of 300\./);
    assert.match(md, /Against the pool's 200 planted copies: recall 25\.0% \(50 found in their original's group\), precision 10\.0% \(250 of the 2,500 removed share their group with a relative\)\./);
    assert.deepEqual(JSON.parse(readFileSync(out.json, 'utf8')).dedup, dedup);
  });
});
