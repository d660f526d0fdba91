// A model exported by stage 0 brings its settings: the encoder.json beside it supplies what the run
// configuration does not give, and must agree with what it gives.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunConfigInput } from '../../../../lib/config/schema';
import { ConfigError, parseRunConfig } from '../../../../lib/config/validate';
import { resolveEncoderSettings } from '../../../../lib/encoder/exported';
import { tempDir } from '../../../support/tmp';

/** What trainer/septtrainer/export.py writes for an RGB encoder of 32x32 crops. */
const SPEC = {
  input_name: 'images',
  output_name: 'features',
  layout: 'NCHW',
  channels: 3,
  size: 32,
  crop: 32,
  mean: [0.4, 0.4, 0.4],
  std: [0.2, 0.2, 0.2],
  l2_normalize: true,
  dim: 128,
};

/** A model file with `spec` as the encoder.json beside it (none when absent). */
function exportedModel(spec?: object): { model: string; specPath: string } {
  const dir = tempDir();
  const model = join(dir, 'encoder.onnx');
  writeFileSync(model, 'onnx bytes');
  const specPath = join(dir, 'encoder.json');
  if (spec) writeFileSync(specPath, JSON.stringify(spec));
  return { model, specPath };
}

const resolve = (encoder: RunConfigInput['encoder']) => resolveEncoderSettings(parseRunConfig({ demo: true, encoder }).encoder);

async function issuesOf(encoder: RunConfigInput['encoder']): Promise<string[]> {
  try {
    await resolve(encoder);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

describe("an exported encoder's encoder.json", () => {
  it('supplies every model setting the run does not give; run settings stay the run’s', async () => {
    const { model } = exportedModel(SPEC);
    const encoder = await resolve({ model, batchSize: 64, threads: 2 });
    assert.deepEqual(
      { inputName: encoder.inputName, outputName: encoder.outputName, channels: encoder.channels, size: encoder.size, crop: encoder.crop, mean: encoder.mean, std: encoder.std, l2Normalize: encoder.l2Normalize },
      { inputName: 'images', outputName: 'features', channels: 3, size: 32, crop: 32, mean: [0.4, 0.4, 0.4], std: [0.2, 0.2, 0.2], l2Normalize: true },
    );
    assert.equal(encoder.batchSize, 64);
    assert.equal(encoder.threads, 2);
  });

  it('keeps the settings the run gives when they agree, one mean for all channels included', async () => {
    const { model } = exportedModel(SPEC);
    const encoder = await resolve({ model, channels: 3, inputName: 'images', mean: [0.4] });
    assert.deepEqual(encoder.mean, [0.4], 'the run’s own form of an agreeing value');
    assert.equal(encoder.size, 32, 'and the rest from the spec');
  });

  it('refuses a setting that disagrees, naming both values and both places', async () => {
    const { model, specPath } = exportedModel(SPEC);
    const issues = await issuesOf({ model, channels: 1, size: 64, crop: 64, mean: [0.4], std: [0.2] });
    assert.deepEqual(issues, [
      `encoder.channels: 1 in the run configuration, but 3 in ${specPath}`,
      `encoder.size: 64 in the run configuration, but 32 in ${specPath}`,
      `encoder.crop: 64 in the run configuration, but 32 in ${specPath}`,
    ]);
  });

  it('tells a setting given explicitly from a default, even one equal to the default', async () => {
    const { model, specPath } = exportedModel(SPEC);
    // 'input' is the schema's default: given explicitly, it is the run's word against the spec's.
    assert.deepEqual(await issuesOf({ model, inputName: 'input' }), [`encoder.inputName: "input" in the run configuration, but "images" in ${specPath}`]);
    // Validated once (the CLI, the client) and again (the workflow): still told apart.
    const validated = parseRunConfig({ demo: true, encoder: { model, batchSize: 8 } });
    const again = parseRunConfig(JSON.parse(JSON.stringify(validated)));
    assert.deepEqual(again.encoder.given, []);
    assert.equal((await resolveEncoderSettings(again.encoder)).inputName, 'images');
  });

  it('compares every setting of a section validation did not record (a model set in code, as stage 0 does)', async () => {
    const { model, specPath } = exportedModel(SPEC);
    const { given: _, ...unrecorded } = parseRunConfig({ demo: true, encoder: { model } }).encoder;
    await assert.rejects(resolveEncoderSettings(unrecorded), (err) => err instanceof ConfigError && err.issues.includes(`encoder.channels: 1 in the run configuration, but 3 in ${specPath}`));
  });

  it('leaves a model without encoder.json, and a run without a model, as configured', async () => {
    const { model } = exportedModel();
    const configured = parseRunConfig({ demo: true, encoder: { model, channels: 3, mean: [0.5], std: [0.5] } }).encoder;
    assert.deepEqual(await resolveEncoderSettings(configured), configured);
    const stage0 = parseRunConfig({ demo: true }).encoder;
    assert.deepEqual(await resolveEncoderSettings(stage0), stage0);
  });

  it('names the file when the encoder.json beside the model is not an export spec', async () => {
    const { model, specPath } = exportedModel({ input_name: 'images' });
    const issues = await issuesOf({ model });
    assert.equal(issues.length, 1);
    assert.ok(issues[0].startsWith(`encoder.model: the encoder.json beside it, ${specPath}, is unreadable: not an export spec: output_name:`), issues[0]);
  });
});
