import { dirname } from 'node:path';
import { z } from 'zod';
import { MODEL_SETTINGS, type ModelSetting } from '../config/schema';
import { ConfigError } from '../config/validate';
import { allowedLocation } from '../storage/access';
import { locationIn, readLocationText } from '../storage/location';
import { EncoderError } from './errors';
import type { EncoderConfig } from './spec';

/** The preprocessing spec that the trainer's export writes beside the ONNX file (trainer/PROTOCOL.md). */
const exportSpec = z.object({
  input_name: z.string(),
  output_name: z.string(),
  channels: z.union([z.literal(1), z.literal(3)]),
  size: z.number().int().positive(),
  crop: z.number().int().positive(),
  mean: z.array(z.number()).min(1),
  std: z.array(z.number().positive()).min(1),
  l2_normalize: z.boolean(),
});

type ModelSettings = Pick<EncoderConfig, ModelSetting>;

/** The encoder settings that an exported model fixes; thread and batch settings stay the run's. */
export type ExportedEncoder = Pick<EncoderConfig, 'model'> & ModelSettings;

/** Beside the model, on disk or in a bucket. */
const specPathOf = (modelPath: string) => locationIn(dirname(modelPath), 'encoder.json');

/** The settings of the export spec at `path`, under the run configuration's names; undefined when there is no such file. */
async function readExportSpec(path: string): Promise<ModelSettings | undefined> {
  const text = await readLocationText(path);
  if (text === undefined) return undefined;
  const spec = exportSpec.safeParse(JSON.parse(text));
  if (!spec.success) throw new Error(`not an export spec: ${spec.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const s = spec.data;
  return { inputName: s.input_name, outputName: s.output_name, channels: s.channels, size: s.size, crop: s.crop, mean: s.mean, std: s.std, l2Normalize: s.l2_normalize };
}

/**
 * The encoder settings of a model the trainer exported: the ONNX file plus the `encoder.json`
 * beside it, so the pool is preprocessed exactly as the encoder saw images in training.
 */
export async function exportedEncoderConfig(onnxPath: string): Promise<ExportedEncoder> {
  const specPath = specPathOf(onnxPath);
  let settings: ModelSettings | undefined;
  try {
    settings = await readExportSpec(specPath);
  } catch (err) {
    throw new EncoderError('model-invalid', `exported encoder ${onnxPath} has no readable preprocessing spec ${specPath}: ${(err as Error).message}`);
  }
  if (!settings) throw new EncoderError('model-invalid', `exported encoder ${onnxPath} has no preprocessing spec ${specPath}`);
  return { model: onnxPath, ...settings };
}

/** One value per channel: a single mean or std stands for every channel. */
const perChannel = (values: number[], channels: number) => (values.length === 1 ? Array<number>(channels).fill(values[0]) : values);

function agrees(setting: ModelSetting, given: ModelSettings, exported: ModelSettings): boolean {
  if (setting === 'mean' || setting === 'std') {
    return JSON.stringify(perChannel(given[setting], exported.channels)) === JSON.stringify(perChannel(exported[setting], exported.channels));
  }
  return given[setting] === exported[setting];
}

/**
 * An encoder section with the settings of its model's export spec: the spec supplies every model
 * setting the run does not give (`encoder.given`, recorded by validation; without that record,
 * every setting counts as given), and each setting the run gives must agree with it, or a
 * ConfigError names both values and both places. Run settings (batch size, threads, …) stay the run's.
 */
export function withExportedSettings(encoder: EncoderConfig, exported: ModelSettings, specPath: string, field = 'encoder'): EncoderConfig {
  const given: readonly ModelSetting[] = encoder.given ?? MODEL_SETTINGS;
  const show = (v: unknown) => JSON.stringify(v);
  const conflicts = given.filter((setting) => !agrees(setting, encoder, exported));
  if (conflicts.length > 0) {
    throw new ConfigError(conflicts.map((s) => `${field}.${s}: ${show(encoder[s])} in the run configuration, but ${show(exported[s])} in ${specPath}`));
  }
  const supplied = MODEL_SETTINGS.filter((s) => !given.includes(s)).map((s) => [s, exported[s]]);
  return { ...encoder, ...Object.fromEntries(supplied) };
}

/**
 * A run's encoder section (`field`: `encoder`, or `dedup.encoder`), completed from the
 * `encoder.json` beside a configured model when there is one (a model septflow's stage 0 exported,
 * or one `sept copy-detector` wrote); unchanged otherwise.
 */
export async function resolveEncoderSettings(encoder: EncoderConfig, field = 'encoder'): Promise<EncoderConfig> {
  if (!encoder.model) return encoder;
  const specPath = specPathOf(allowedLocation(`${field}.model`, encoder.model, 'read'));
  let exported: ModelSettings | undefined;
  try {
    exported = await readExportSpec(specPath);
  } catch (err) {
    throw new ConfigError([`${field}.model: the encoder.json beside it, ${specPath}, is unreadable: ${(err as Error).message}`]);
  }
  return exported ? withExportedSettings(encoder, exported, specPath, field) : encoder;
}
