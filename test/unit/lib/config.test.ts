import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RUN_CONFIG_DOCS_FILE, runConfigReference } from '../../../lib/config/config-docs';
import { RUN_CONFIG_SCHEMA_FILE, runConfigJsonSchema } from '../../../lib/config/json-schema';
import { loadRunConfig } from '../../../lib/config/load';
import { ConfigError, parseRunConfig } from '../../../lib/config/validate';
import { workerSettingsFromEnv } from '../../../lib/config/worker-settings';
import { projectRoot } from '../../../lib/paths';
import { tempDir } from '../../support/tmp';

function issuesOf(input: unknown): string[] {
  try {
    parseRunConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

describe('run configuration', () => {
  it('fills in the demo\'s pool and target, and every default, for `demo: true`', () => {
    const config = parseRunConfig({ demo: true });
    assert.equal(config.name, 'demo');
    assert.deepEqual(
      config.pool.sources.map((s) => s.kind === 'demo' && `${s.dataset}:${s.split}`),
      ['fashion-mnist:all', 'fashion-mnist:copies', 'mnist:train'],
    );
    assert.deepEqual(config.target.train, { kind: 'demo', dataset: 'mnist', split: 'train' });
    assert.equal(config.encoder.model, undefined, 'no encoder: stage 0 trains one');
    assert.equal(config.encoder.channels, 1);
    assert.equal(config.retrieval.policy, 'budget');
    assert.equal(config.retrieval.leakageGuard.enabled, true);
    assert.equal(config.trainer.heartbeatTimeout, '5m');
  });

  it('refuses a run that names no pool or target, saying how to ask for the demo', () => {
    const demo = /or set "demo": true for the demo's pool and target$/;
    for (const input of [{}, { demo: false, name: 'nightly' }]) {
      const issues = issuesOf(input);
      assert.deepEqual(issues.map((i) => i.split(':')[0]), ['pool', 'target']);
      assert.ok(issues.every((i) => /^\w+: missing: name the /.test(i) && demo.test(i)), issues.join('\n'));
    }
    assert.deepEqual(issuesOf({ pool: { sources: [{ kind: 'demo', dataset: 'mnist' }] } }).map((i) => i.split(':')[0]), ['target']);
    assert.deepEqual(issuesOf({ pool: {}, target: { preset: 'mnist' } }), ['pool.sources: missing: name the pool\'s sources']);
  });

  it('takes a named pool and target over the demo\'s', () => {
    const pool = { sources: [{ kind: 'folder' as const, path: 'images' }] };
    const config = parseRunConfig({ demo: true, pool, target: { preset: 'fashion-mnist' } });
    assert.deepEqual(config.pool.sources.map((s) => s.kind), ['folder']);
    assert.deepEqual(config.target.test, { kind: 'demo', dataset: 'fashion-mnist', split: 'test' });
    assert.equal(parseRunConfig({ pool, target: { preset: 'mnist' } }).demo, undefined);
  });

  it('records which model settings a run with a named encoder gives, and validates to itself', () => {
    const config = parseRunConfig({ demo: true, encoder: { model: 'enc.onnx', inputName: 'input', mean: [0.5], batchSize: 8 } });
    assert.deepEqual(config.encoder.given, ['inputName', 'mean']);
    assert.deepEqual(parseRunConfig(JSON.parse(JSON.stringify(config))), config);
    assert.equal(parseRunConfig({ demo: true }).encoder.given, undefined, 'no model: stage 0 trains one with these settings');
  });

  it("records the model settings dedup's own encoder gives, and refuses one that names no model", () => {
    const config = parseRunConfig({ demo: true, dedup: { enabled: true, encoder: { model: 'copy.onnx', size: 32, crop: 32 } } });
    assert.deepEqual(config.dedup.encoder?.given, ['size', 'crop']);
    assert.equal(config.dedup.encoder?.threads, 0, 'defaults as the retrieval encoder');
    assert.deepEqual(parseRunConfig(JSON.parse(JSON.stringify(config))), config);
    assert.equal(parseRunConfig({ demo: true }).dedup.encoder, undefined, 'none: the groups are found on the retrieval encoder');
    assert.deepEqual(issuesOf({ demo: true, dedup: { encoder: { size: 32, crop: 32 } } }), ['dedup.encoder.model: names no model: the encoder the groups are found on is an ONNX file (leave dedup.encoder out for the retrieval encoder)']);
  });

  it('keeps given values and defaults the rest of a section', () => {
    const config = parseRunConfig({ demo: true, retrieval: { budget: 500 }, encoder: { model: 'enc.onnx', channels: 3, size: 256, crop: 224, mean: [0.4, 0.4, 0.4], std: [0.2, 0.2, 0.2] } });
    assert.equal(config.retrieval.budget, 500);
    assert.equal(config.retrieval.k, 200);
    assert.equal(config.encoder.crop, 224);
  });

  it('refuses unknown and mistyped fields, naming each by its path', () => {
    const issues = issuesOf({
      retrieval: { bugdet: 5 },
      pool: { sources: [{ kind: 'demo', dataset: 'cifar' }] },
      target: { preset: 'mnist' },
      encoder: { size: 28, crop: 32 },
      name: 'Bad Name',
      trainer: { heartbeatTimeout: 'soon' },
    });
    const byPath = (p: string) => issues.find((i) => i.startsWith(`${p}:`));
    assert.match(byPath('retrieval.bugdet') ?? '', /unknown field/);
    assert.ok(byPath('pool.sources[0].dataset'), issues.join('\n'));
    assert.match(byPath('encoder.crop') ?? '', /crop must not exceed size/);
    assert.ok(byPath('name'));
    assert.match(byPath('trainer.heartbeatTimeout') ?? '', /duration/);
    assert.equal(issues.length, 5, issues.join('\n'));
  });

  it('takes a validation split only after labelsPerClass', () => {
    assert.deepEqual(issuesOf({ demo: true, target: { preset: 'mnist', validationPerClass: 10 } }), [
      'target.validationPerClass: needs target.labelsPerClass: the validation split is the labeled train images of each class after the first labelsPerClass',
    ]);
    assert.equal(parseRunConfig({ demo: true, target: { preset: 'mnist', labelsPerClass: 5, validationPerClass: 10 } }).target.validationPerClass, 10);
  });

  it('names an unknown top-level field', () => {
    assert.deepEqual(issuesOf({ demo: true, pooll: {} }), ['pooll: unknown field']);
  });

  it('names a trainer, the reference trainer by default, and refuses a command, saying where commands are registered', () => {
    assert.equal(parseRunConfig({ demo: true }).trainer.name, 'reference');
    assert.equal(parseRunConfig({ demo: true, trainer: { name: 'mine' } }).trainer.name, 'mine');
    assert.match(issuesOf({ demo: true, trainer: { name: '../mine' } })[0], /^trainer\.name: /);
    const [refusal, ...others] = issuesOf({ demo: true, trainer: { command: ['/bin/sh', '-c', 'env'] } });
    assert.deepEqual(others, []);
    assert.match(refusal, /^trainer\.command: .*register the command in SEPT_TRAINERS on the sept-gpu workers and set trainer\.name/);
  });

  it("names the pre-trained backbone, the paper's from timm among them, and refuses others and mae on a convnet", () => {
    assert.equal(parseRunConfig({ demo: true }).pretrain.backbone, undefined, 'unset: the method picks the demo\'s');
    assert.equal(parseRunConfig({ demo: true, encoder: { size: 224, crop: 224 }, pretrain: { method: 'mae', backbone: 'vit_base_patch16_224' } }).pretrain.backbone, 'vit_base_patch16_224');
    // A crop the ViT's patches do not tile: refused at the start, not by the trainer after stages 0 to 2.
    assert.deepEqual(issuesOf({ demo: true, pretrain: { method: 'mae', backbone: 'vit_small_patch16_224' } }), [
      "encoder.crop: 28 pixels do not divide into vit_small_patch16_224's 16-pixel patches; use a multiple of 16 (224 for the paper's)",
    ]);
    assert.match(issuesOf({ demo: true, pretrain: { backbone: 'resnet5O' } })[0], /^pretrain\.backbone: .*resnet50/);
    assert.deepEqual(issuesOf({ demo: true, pretrain: { method: 'mae', backbone: 'resnet50' } }), [
      'pretrain.backbone: method mae needs a ViT: vit_tiny, vit_small_patch16_224 or vit_base_patch16_224',
    ]);
  });

  it('takes a path or an s3://bucket/prefix as outputDir, and nothing that would become a local folder named after a scheme', () => {
    assert.equal(parseRunConfig({ demo: true, outputDir: 's3://bucket/runs' }).outputDir, 's3://bucket/runs');
    for (const outputDir of ['gs://bucket/runs', 's3:/bucket/runs', 's3://']) {
      assert.deepEqual(issuesOf({ demo: true, outputDir }), ['outputDir: a path, or an s3://bucket/prefix URI'], outputDir);
    }
  });

  it('loads YAML and JSON files, and names the file when it is missing or malformed', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'run.yaml'), 'name: nightly\ndemo: true\nretrieval:\n  budget: 100\n');
    writeFileSync(join(dir, 'run.json'), '{"name": "x", ');
    assert.equal((await loadRunConfig(join(dir, 'run.yaml'))).retrieval.budget, 100);
    await assert.rejects(loadRunConfig(join(dir, 'run.json')), /run\.json: not valid JSON/);
    await assert.rejects(loadRunConfig(join(dir, 'nope.yaml')), /nope\.yaml: no such file/);
  });

  it('has a committed JSON Schema that matches the zod schema (run `npm run schema` when this fails)', () => {
    const committed = readFileSync(join(projectRoot, RUN_CONFIG_SCHEMA_FILE), 'utf8');
    assert.equal(committed, runConfigJsonSchema());
  });

  it('has a committed configuration reference that matches the zod schema (run `npm run schema` when this fails)', () => {
    const committed = readFileSync(join(projectRoot, RUN_CONFIG_DOCS_FILE), 'utf8');
    assert.equal(committed, runConfigReference());
  });
});

describe('worker settings', () => {
  it('reads concurrency from the environment and names a bad variable', () => {
    assert.equal(workerSettingsFromEnv({ SEPT_CPU_ACTIVITY_CONCURRENCY: '6' }).cpuActivityConcurrency, 6);
    assert.equal(workerSettingsFromEnv({}).gpuActivityConcurrency, 1);
    assert.throws(() => workerSettingsFromEnv({ SEPT_GPU_ACTIVITY_CONCURRENCY: 'two' }), /SEPT_GPU_ACTIVITY_CONCURRENCY/);
  });

  it('keeps the trainer forkserver on unless SEPT_TRAINER_FORKSERVER is off, and names a bad value', () => {
    assert.equal(workerSettingsFromEnv({}).trainerForkserver, true);
    assert.equal(workerSettingsFromEnv({ SEPT_TRAINER_FORKSERVER: 'off' }).trainerForkserver, false);
    assert.throws(() => workerSettingsFromEnv({ SEPT_TRAINER_FORKSERVER: 'no' }), /invalid worker settings: SEPT_TRAINER_FORKSERVER/);
  });
});
