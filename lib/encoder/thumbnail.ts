// A copy detector with no learned weights, for deduplication (`dedup.encoder`) where no trained
// copy-detection model (SSCD, as DINOv2 used) is at hand: each image is averaged down to
// `cells` x `cells` per channel and centred on its own mean; L2-normalized (its encoder.json says
// so), the cosine of two images is then the correlation of their thumbnails. Re-encodings of one
// picture keep a correlation near 1; resizes and small crops fall lower, into the range of other
// pictures of the same kind, which only a trained copy detector tells apart. A retrieval encoder,
// trained to bring look-alikes together, does worse (docs/stages/dedup.md has the figures on the
// demo's planted copies).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write';
import { encodeModel } from '../onnx/graph';

export interface ThumbnailSpec {
  /** 1 (grayscale) or 3 (RGB): the pool's images as the encoder reads them. */
  channels: 1 | 3;
  /** The input's side in pixels (encoder.size and encoder.crop). */
  size: number;
  /** The thumbnail's side: it must divide `size`. */
  cells: number;
}

/** Why a spec makes no thumbnail encoder, or undefined. */
export function thumbnailSpecIssue(spec: ThumbnailSpec): string | undefined {
  if (spec.channels !== 1 && spec.channels !== 3) return `channels must be 1 or 3, got ${spec.channels}`;
  if (!Number.isInteger(spec.size) || spec.size <= 0) return `size must be a positive integer, got ${spec.size}`;
  if (!Number.isInteger(spec.cells) || spec.cells <= 0 || spec.size % spec.cells !== 0) return `cells must be a positive integer that divides size ${spec.size}, got ${spec.cells}`;
  return undefined;
}

/** The ONNX model: input `input` [batch, channels, size, size], output `embedding` [batch, channels x cells²]. */
export function thumbnailModel(spec: ThumbnailSpec): Uint8Array {
  const issue = thumbnailSpecIssue(spec);
  if (issue) throw new Error(`thumbnail encoder: ${issue}`);
  const cell = spec.size / spec.cells;
  const dims = spec.channels * spec.cells * spec.cells;
  return encodeModel({
    name: `thumbnail-${spec.cells}`,
    doc: `septflow copy detector: ${spec.cells}x${spec.cells} area-averaged thumbnail per channel, centred per image; no learned weights`,
    inputs: [{ name: 'input', type: 'float', dims: ['batch', spec.channels, spec.size, spec.size] }],
    outputs: [{ name: 'embedding', type: 'float', dims: ['batch', dims] }],
    nodes: [
      { op: 'AveragePool', inputs: ['input'], outputs: ['cells'], attributes: { kernel_shape: [cell, cell], strides: [cell, cell] } },
      { op: 'Flatten', inputs: ['cells'], outputs: ['thumbnail'], attributes: { axis: 1 } },
      { op: 'ReduceMean', inputs: ['thumbnail'], outputs: ['level'], attributes: { axes: [1], keepdims: 1 } },
      { op: 'Sub', inputs: ['thumbnail', 'level'], outputs: ['embedding'] },
    ],
    initializers: [],
  });
}

/**
 * Writes the model as `<dir>/model.onnx` with its `encoder.json` (the preprocessing it reads
 * images with: resize and crop to `size`, pixels to [-1, 1], vectors L2-normalized), so that
 * `dedup.encoder: { model: <returned path> }` is the whole configuration. Returns the model's path.
 */
export async function writeThumbnailEncoder(dir: string, spec: ThumbnailSpec): Promise<string> {
  const model = thumbnailModel(spec);
  await mkdir(dir, { recursive: true });
  const exportSpec = { input_name: 'input', output_name: 'embedding', channels: spec.channels, size: spec.size, crop: spec.size, mean: [0.5], std: [0.5], l2_normalize: true };
  await writeFileAtomic(join(dir, 'encoder.json'), JSON.stringify(exportSpec, null, 2) + '\n');
  const path = join(dir, 'model.onnx');
  await writeFileAtomic(path, model);
  return path;
}
