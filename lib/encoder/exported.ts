import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EncoderError } from './errors';
import type { EncoderConfig } from './spec';

/** The preprocessing spec that the trainer's export writes beside the ONNX file (trainer/PROTOCOL.md). */
interface ExportSpec {
  input_name: string;
  output_name: string;
  channels: 1 | 3;
  size: number;
  crop: number;
  mean: number[];
  std: number[];
  l2_normalize: boolean;
}

/** The encoder settings that an exported model fixes; thread and batch settings stay the run's. */
export type ExportedEncoder = Pick<EncoderConfig, 'model' | 'inputName' | 'outputName' | 'channels' | 'size' | 'crop' | 'mean' | 'std' | 'l2Normalize'>;

/**
 * The encoder settings of a model the trainer exported: the ONNX file plus the `encoder.json`
 * beside it, so the pool is preprocessed exactly as the encoder saw images in training.
 */
export async function exportedEncoderConfig(onnxPath: string): Promise<ExportedEncoder> {
  const specPath = join(dirname(onnxPath), 'encoder.json');
  let spec: ExportSpec;
  try {
    spec = JSON.parse(await readFile(specPath, 'utf8')) as ExportSpec;
  } catch (err) {
    throw new EncoderError('model-invalid', `exported encoder ${onnxPath} has no readable preprocessing spec ${specPath}: ${(err as Error).message}`);
  }
  return {
    model: onnxPath,
    inputName: spec.input_name,
    outputName: spec.output_name,
    channels: spec.channels,
    size: spec.size,
    crop: spec.crop,
    mean: spec.mean,
    std: spec.std,
    l2Normalize: spec.l2_normalize,
  };
}
