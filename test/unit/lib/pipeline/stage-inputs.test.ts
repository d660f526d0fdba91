// Which changes of the configuration, or of what the pool and the target hold, make which pipeline
// stage stale: the reuse rules of septPipeline, as a table. A rerun under the same name reuses a stage whose inputs hash to its record's key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FINETUNE_BATCH_SIZE, type RunConfig } from '../../../../lib/config/schema';
import { parseRunConfig } from '../../../../lib/config/validate';
import { stageKey } from '../../../../lib/pipeline/stage-record';
import { encoderStageInputs, finetuneStageInputs, type InputContent, pretrainStageInputs, selectStageInputs } from '../../../../lib/pipeline/stage-inputs';

const base = parseRunConfig({
  name: 'rules',
  pool: { sources: [{ kind: 'demo', dataset: 'fashion-mnist', split: 'all' }] },
  target: { train: { kind: 'demo', dataset: 'mnist', split: 'train' }, test: { kind: 'demo', dataset: 'mnist', split: 'test' }, labelsPerClass: 20 },
});

/** What the inputs held when the run's first step listed them (contentFingerprint of each one's shards). */
const CONTENT: InputContent = { pool: 'pool-v1', targetTrain: 'train-v1', targetTest: 'test-v1' };

type Stage = 'encoder' | 'select' | 'pretrain' | 'finetune';

/**
 * The keys of one run's reusable stages. The embedding stage's result stands in as a function of
 * what decides it: the encoder (a configured model and its preprocessing, or stage 0's key) and the pool.
 */
function keys(c: RunConfig, content: InputContent = CONTENT): Record<Stage, string> {
  const encoder = stageKey(encoderStageInputs(c));
  const encoderId = c.encoder.model ? stageKey({ model: c.encoder.model, size: c.encoder.size, channels: c.encoder.channels }) : encoder;
  const poolSize = JSON.stringify(c.pool).length;
  // septPipeline embeds with dedup.encoder only when it deduplicates, and hands on that embedding's encoder id.
  const detector = c.dedup.enabled && c.dedup.encoder?.model ? stageKey({ model: c.dedup.encoder.model }) : undefined;
  const select = stageKey(selectStageInputs(c, { encoderId, shards: poolSize, samplesEmbedded: poolSize * 1000 }, content, detector));
  const pretrain = stageKey(pretrainStageInputs(c, select));
  const finetune = stageKey(finetuneStageInputs(c, pretrain, content));
  return { encoder, select, pretrain, finetune };
}

const with_ = (patch: (c: RunConfig) => void): RunConfig => {
  const c = structuredClone(base);
  patch(c);
  return c;
};

const ALL: Stage[] = ['encoder', 'select', 'pretrain', 'finetune'];
const CASES: [string, (c: RunConfig) => void, Stage[]][] = [
  ['nothing changed', () => {}, []],
  ['another run name (records are per name already)', (c) => (c.name = 'other'), []],
  ['embedding window', (c) => (c.embed.window = 3), []],
  ['trainer device and threads', (c) => Object.assign(c.trainer, { device: 'cpu', threads: 1 }), []],
  ['checkpoint interval', (c) => (c.trainer.checkpointEverySteps = 7), []],
  ['retrieval budget', (c) => (c.retrieval.budget = 123), ['select', 'pretrain', 'finetune']],
  ['retrieval k', (c) => (c.retrieval.k = 3), ['select', 'pretrain', 'finetune']],
  ['labels per class of the target', (c) => (c.target.labelsPerClass = 5), ['select', 'pretrain', 'finetune']],
  ['pre-training steps', (c) => (c.pretrain.steps = 11), ['pretrain', 'finetune']],
  ['pre-training method', (c) => (c.pretrain.method = c.pretrain.method === 'simclr' ? 'mae' : 'simclr'), ['pretrain', 'finetune']],
  ['fine-tuning epochs', (c) => (c.finetune.epochs = 2), ['finetune']],
  ['fine-tuning learning rate', (c) => (c.finetune.lr = 0.5), ['finetune']],
  ['fine-tuning batch size', (c) => (c.finetune.batchSize = 32), ['finetune']],
  // Records of runs from when the default was written into every configuration stay valid.
  ['fine-tuning batch size set to its default', (c) => (c.finetune.batchSize = FINETUNE_BATCH_SIZE), []],
  ['stage 0 steps', (c) => (c.encoderTraining.steps = 9), ALL],
  ['image size', (c) => (c.encoder.size = 32), ALL],
  ['normalisation', (c) => (c.encoder.mean = [0.25]), ALL],
  ['trainer name', (c) => (c.trainer.name = 'my-trainer'), ALL],
  // Configurations resolved before runs named trainers have no name: the reference trainer's records match them.
  ['no trainer name (resolved by 0.3.0)', (c) => delete (c.trainer as { name?: string }).name, []],
  ['deduplication on', (c) => (c.dedup.enabled = true), ['select', 'pretrain', 'finetune']],
  ['a copy detector for deduplication', (c) => Object.assign(c.dedup, { enabled: true, encoder: { ...c.encoder, model: '/models/copy.onnx' } }), ['select', 'pretrain', 'finetune']],
  ['a copy detector named while deduplication is off', (c) => (c.dedup.encoder = { ...c.encoder, model: '/models/copy.onnx' }), []],
  ['pool sources', (c) => c.pool.sources.push({ kind: 'demo', dataset: 'mnist', split: 'train' } as never), ALL],
];

describe('stage reuse keys', () => {
  const before = keys(base);
  for (const [what, patch, stale] of CASES) {
    it(`${what}: ${stale.length ? stale.join(', ') : 'nothing'} redone`, () => {
      const after = keys(with_(patch));
      const changed = ALL.filter((s) => after[s] !== before[s]);
      assert.deepEqual(changed, stale);
    });
  }

  it("a copy detector's groups key the selection apart from the retrieval encoder's, and from another detector's", () => {
    const dedupOn = (encoder?: string) => keys(with_((c) => Object.assign(c.dedup, { enabled: true, encoder: encoder ? { ...c.encoder, model: encoder } : undefined }))).select;
    assert.equal(new Set([dedupOn(), dedupOn('/models/copy.onnx'), dedupOn('/models/copy-14.onnx')]).size, 3);
  });

  it('the reference trainer keys as the absent command did, so records of earlier releases still match', () => {
    assert.equal(encoderStageInputs(base).trainer, null);
    assert.equal(pretrainStageInputs(base, 's').trainer, null);
  });

  it('a configured encoder: stage 0 settings change nothing downstream', () => {
    const k = keys(with_((c) => (c.encoder.model = '/models/enc.onnx')));
    const retrained = keys(
      with_((c) => {
        c.encoder.model = '/models/enc.onnx';
        c.encoderTraining.steps = 9;
      }),
    );
    assert.deepEqual([retrained.select, retrained.pretrain, retrained.finetune], [k.select, k.pretrain, k.finetune]);
  });

  // The content of the inputs, under the same settings: an image replaced in place, a folder that gained images.
  const CONTENT_CASES: [string, Partial<InputContent>, Stage[]][] = [
    // Stage 0's encoder stays: retraining it would re-embed the whole pool for every new shard.
    ['the pool', { pool: 'pool-v2' }, ['select', 'pretrain', 'finetune']],
    ["the target's train set", { targetTrain: 'train-v2' }, ['select', 'pretrain', 'finetune']],
    ["the target's test set", { targetTest: 'test-v2' }, ['select', 'pretrain', 'finetune']],
  ];
  for (const [what, patch, stale] of CONTENT_CASES) {
    it(`the content of ${what} changed, its settings not: ${stale.join(', ')} redone`, () => {
      const after = keys(base, { ...CONTENT, ...patch });
      assert.deepEqual(
        ALL.filter((s) => after[s] !== before[s]),
        stale,
      );
    });
  }

  it('a configured encoder: a changed pool content redoes the selection onwards', () => {
    const configured = with_((c) => (c.encoder.model = '/models/enc.onnx'));
    const [k, changed] = [keys(configured), keys(configured, { ...CONTENT, pool: 'pool-v2' })];
    const downstream: Stage[] = ['select', 'pretrain', 'finetune'];
    assert.deepEqual(
      downstream.filter((s) => k[s] !== changed[s]),
      downstream,
    );
  });

  it('a run whose first step reported no content (an earlier release) keys its stages as before content was kept', () => {
    const embed = { encoderId: 'e', shards: 1, samplesEmbedded: 1000 };
    const pairs: [string, object, object][] = [
      ['select', selectStageInputs(base, embed), selectStageInputs(base, embed, CONTENT)],
      ['finetune', finetuneStageInputs(base, 'p'), finetuneStageInputs(base, 'p', CONTENT)],
    ];
    for (const [stage, without, withContent] of pairs) {
      const { poolContent: _pool, targetContent: _target, ...settings } = withContent as Record<string, unknown>;
      assert.notEqual(stageKey(withContent), stageKey(without), stage);
      assert.equal(stageKey(without), stageKey(settings), stage);
    }
  });

  it('keys do not depend on the order of fields', () => {
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as RunConfig;
    assert.deepEqual(keys(reordered), before);
  });
});
