import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PipelineLog, type StageLive, stageLine } from '../../../cli/pipeline-view';
import { formatTrainProgress, progressBar } from '../../../cli/progress';
import { PIPELINE_STAGES, type PipelineStage, type StageTiming } from '../../../lib/pipeline/stages';
import type { PipelineProgress } from '../../../workflows/pipeline-types';

describe('progress lines', () => {
  it('draws a clamped bar', () => {
    assert.equal(progressBar(0.5, 10), '[#####-----]  50%');
    assert.equal(progressBar(1.7, 4), '[####] 100%');
  });

  it('shows a trainer job with its speed and an ETA from images/s and the batch size', () => {
    const line = formatTrainProgress(
      { stage: 'pretrain', completed: [], checkpoints: {}, metrics: {}, jobs: {} },
      { stage: 'pretrain', step: 150, totalSteps: 600, loss: 3.41234, imagesPerS: 400, batchSize: 256, checkpoint: '/c/checkpoint-00000150.pt', checkpointStep: 150 },
    );
    // 450 steps x 256 images / 400 images/s = 288 s
    assert.match(line, /^\[#+-+\]  25%  pretrain step 150\/600  loss 3\.412  400 images\/s  ETA 4m48s  checkpoint step 150$/);
  });

  it('lists finished stages and says when the trainer has not reported yet', () => {
    const line = formatTrainProgress({ stage: 'finetune', completed: ['pretrain', 'evaluate-pretrained'], checkpoints: {}, metrics: {}, jobs: {} }, undefined);
    assert.equal(line, 'done: pretrain, evaluate-pretrained\nfinetune: starting');
  });
});

/** A pipeline progress snapshot: the stages given, the others pending; the stage is the one running. */
function snapshot(given: Partial<Record<PipelineStage, StageTiming>>): PipelineProgress {
  const stages = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, given[s] ?? { status: 'pending' }])) as Record<PipelineStage, StageTiming>;
  const running = PIPELINE_STAGES.find((s) => stages[s].status === 'running');
  return { run: 'r', stage: running ?? 'done', stages, figures: {} };
}

const running = (startedAt = 0): StageTiming => ({ status: 'running', workflowId: 'r/stage', startedAt });
const done = (seconds: number): StageTiming => ({ status: 'done', seconds });
const beat = (step: number): StageLive => ({ trainer: { stage: 'pretrain', step, totalSteps: 200, batchSize: 64, imagesPerS: 640 } });
const embedded = (shardsDone: number): StageLive => ({ embed: { shardsDone, shardsTotal: 10, samplesEmbedded: shardsDone * 1000, quarantined: 0, imagesPerSecond: 500 } });

describe('pipeline lines off a terminal', () => {
  it('prints only lines that changed and are true at the time: a start, live figures at most every 30 s, each outcome once', () => {
    const log = new PipelineLog(30_000);
    const steps: [PipelineProgress, StageLive, number][] = [
      [snapshot({ encoder: running() }), {}, 0],
      [snapshot({ encoder: running() }), beat(10), 5_000],
      [snapshot({ encoder: running() }), beat(100), 40_000],
      [snapshot({ encoder: running() }), beat(100), 42_000],
      // Between two trainer jobs the heartbeat is gone: nothing to say, rather than "0%".
      [snapshot({ encoder: running() }), {}, 80_000],
      // The encoder finished; the embedding child has not answered yet.
      [snapshot({ encoder: done(90), embed: running(90_000) }), {}, 90_000],
      [snapshot({ encoder: done(90), embed: running(90_000) }), embedded(2), 92_000],
      [snapshot({ encoder: done(90), embed: running(90_000) }), embedded(7), 125_000],
      [snapshot({ encoder: done(90), embed: done(40), select: running(130_000) }), {}, 131_000],
      [snapshot({ encoder: done(90), embed: done(40), select: running(130_000) }), {}, 200_000],
    ];
    const printed = steps.map(([p, live, now]) => log.next(p, live, now));
    assert.deepEqual(printed, [
      ['encoder  running'],
      [],
      [`encoder  ${progressBar(0.5)}  pretrain step 100/200  640 images/s  ETA 0m10s`],
      [],
      [],
      [`encoder  ${progressBar(1)}  done in 90 s`, 'embed    running'],
      [],
      [`embed    ${progressBar(0.7)}  7/10 shards  7,000 embedded  0 quarantined  500 images/s`],
      [`embed    ${progressBar(1)}  done in 40 s`, 'select   searching and selecting'],
      [],
    ]);
    assert.ok(!printed.flat().some((l) => /preparing|\s0%/.test(l)), 'no line claims what is not known');
  });

  it('says a configured encoder was skipped, and a reused stage reused, once each', () => {
    const log = new PipelineLog();
    const p = snapshot({ encoder: { status: 'skipped' }, embed: done(12), select: { status: 'reused', seconds: 1 }, pretrain: running() });
    assert.deepEqual(log.next(p, {}, 0), [
      'encoder  skipped (encoder.model is set)',
      `embed    ${progressBar(1)}  done in 12 s`,
      `select   ${progressBar(1)}  reused from an earlier run in 1 s`,
      'pretrain running',
    ]);
    assert.deepEqual(log.next(p, {}, 60_000), []);
  });

  it('shows, on a terminal, how long a stage without live figures has run', () => {
    const p = snapshot({ encoder: done(3), embed: running(10_000) });
    assert.equal(stageLine('embed', p, {}, 22_000), 'embed    running, 12 s');
    assert.equal(stageLine('select', p, {}, 22_000), 'select   pending');
    assert.equal(stageLine('embed', p, embedded(5), 22_000), `embed    ${progressBar(0.5)}  5/10 shards  5,000 embedded  0 quarantined  500 images/s`);
  });
});
