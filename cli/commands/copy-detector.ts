import { join } from 'node:path';
import type { Command } from 'commander';
import { writeThumbnailEncoder } from '../../lib/encoder/thumbnail';
import { dataDir } from '../../lib/paths';

/** Writes the thumbnail copy detector (lib/encoder/thumbnail.ts) and prints the `dedup.encoder` that uses it. */
export function registerCopyDetector(program: Command): void {
  program
    .command('copy-detector')
    .description("write a copy detector with no learned weights (each image's thumbnail, centred) for `dedup.encoder`, and print the setting that names it")
    .option('--channels <n>', '1 (grayscale) or 3 (RGB), as the pool is read', '1')
    .option('--size <pixels>', "the images' side as the detector reads them (resized, then center-cropped)", '28')
    .option('--cells <n>', "the thumbnail's side; it must divide --size", '14')
    .option('--out <dir>', 'the folder for model.onnx and encoder.json (default: <data dir>/models/copy-detector-<size>-<cells>x<channels>)')
    .action(async (opts: { channels: string; size: string; cells: string; out?: string }) => {
      const spec = { channels: Number(opts.channels) as 1 | 3, size: Number(opts.size), cells: Number(opts.cells) };
      const dir = opts.out ?? join(dataDir(), 'models', `copy-detector-${spec.size}-${spec.cells}x${spec.channels}`);
      const model = await writeThumbnailEncoder(dir, spec);
      console.log(JSON.stringify({ dedup: { enabled: true, encoder: { model } } }, null, 2));
    });
}
