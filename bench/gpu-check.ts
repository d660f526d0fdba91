// The figures of bench/gpu-check.sh (run it, not this file: it puts the CUDA runtime on the loader
// path first). Each figure on the GPU beside the same figure on the CPU: pre-training images/s of MAE
// and SimCLR in the reference trainer, embedding images/s of a ResNet-50-sized ONNX encoder (random
// weights) through onnxruntime, exact-search GFLOP/s over a pool of vectors (torch). `--cpu`: the
// CPU side only, at small sizes and with the small demo models, in under a minute.
// Prints a line per figure on stderr and all of them as one JSON object on the last line; exits 1
// when a figure it was asked for could not be measured (the JSON says why under `errors`).
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRunConfig } from '../lib/config/validate';
import { encoderSpecOf } from '../lib/encoder/spec';
import { DEMO_CNN, ensureTestEncoder, RESNET50, type TestEncoder } from '../lib/encoder/test-encoders';
import { projectRoot } from '../lib/paths';
import { referenceTrainerCommand } from '../lib/trainer/command';
import { inferenceRate } from './inference-rate';

type Device = 'cuda' | 'cpu';

/** How much work each figure gets on each device: the GPU check's own sizes, or `--cpu`'s small ones. */
interface DeviceSizes {
  trainer: { batchSize: number; steps: number };
  embed: { batchSize: number; seconds: number };
  search: { pool: number; queries: number; seconds: number };
}

interface Sizes {
  imageSize: number;
  encoder: TestEncoder;
  devices: Partial<Record<Device, DeviceSizes>>;
}

const GPU_CHECK: Sizes = {
  imageSize: 224,
  encoder: RESNET50,
  devices: {
    cuda: { trainer: { batchSize: 256, steps: 24 }, embed: { batchSize: 256, seconds: 10 }, search: { pool: 1_000_000, queries: 4096, seconds: 5 } },
    // Smaller batches on the CPU: a figure per image, not batch-256 steps of a minute each.
    cpu: { trainer: { batchSize: 16, steps: 6 }, embed: { batchSize: 32, seconds: 10 }, search: { pool: 1_000_000, queries: 256, seconds: 5 } },
  },
};

const CPU_ONLY: Sizes = {
  imageSize: 28,
  encoder: DEMO_CNN,
  devices: { cpu: { trainer: { batchSize: 32, steps: 6 }, embed: { batchSize: 64, seconds: 1 }, search: { pool: 100_000, queries: 64, seconds: 1 } } },
};

const log = (message: string) => console.error(`[gpu-check] ${message}`);

/** Runs bench/gpu_check.py with the trainer's Python; resolves to its last line's JSON. */
function python(args: string[]): Promise<Record<string, number | string>> {
  const [executable] = referenceTrainerCommand().command;
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [join(projectRoot, 'bench', 'gpu_check.py'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1)!));
      else reject(new Error(err.trim().split('\n').slice(-20).join('\n') || `exited with ${code}`));
    });
  });
}

async function embedRate(encoder: TestEncoder, device: Device, batchSize: number, seconds: number): Promise<number> {
  const model = await ensureTestEncoder(encoder);
  const config = parseRunConfig({ demo: true, encoder: { model, channels: encoder.channels, size: encoder.size, crop: encoder.size, batchSize, device, threads: 1 } });
  // One session with every core, as onnxruntime is usually run on a CPU.
  return inferenceRate({ ...encoderSpecOf(config.encoder), intraOpThreads: availableParallelism() }, seconds);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cpu: { type: 'boolean', default: false },
      'mae-model': { type: 'string' },
      'simclr-model': { type: 'string' },
    },
  });
  const sizes = values.cpu ? CPU_ONLY : GPU_CHECK;
  const models = {
    mae: values['mae-model'] ?? (values.cpu ? 'vit_tiny' : 'vit_base_patch16_224'),
    simclr: values['simclr-model'] ?? (values.cpu ? 'cnn_small' : 'resnet50'),
  };
  const figures: Record<string, unknown> = { mode: values.cpu ? 'cpu' : 'gpu', mae_model: models.mae, simclr_model: models.simclr, image_size: sizes.imageSize, encoder: sizes.encoder.file };
  const errors: Record<string, string> = {};

  const measure = async (name: string, what: string, unit: string, body: () => Promise<number>) => {
    const started = Date.now();
    try {
      figures[name] = await body();
      log(`${what}: ${figures[name]} ${unit} (${Math.round((Date.now() - started) / 1000)} s)`);
    } catch (err) {
      figures[name] = null;
      errors[name] = (err as Error).message;
      log(`${what}: FAILED: ${errors[name]}`);
    }
  };

  for (const [device, work] of Object.entries(sizes.devices) as [Device, DeviceSizes][]) {
    const side = device === 'cuda' ? 'gpu' : 'cpu';
    for (const method of ['mae', 'simclr'] as const) {
      const { batchSize, steps } = work.trainer;
      await measure(`${method}_${side}_images_per_s`, `${method} ${models[method]} at ${sizes.imageSize} px, batch ${batchSize}, on ${device}`, 'images/s', async () => {
        const args = ['trainer', '--device', device, '--method', method, '--model', models[method], '--image-size', String(sizes.imageSize), '--batch-size', String(batchSize), '--steps', String(steps)];
        return Number((await python(args)).images_per_s);
      });
    }
    const { embed, search } = work;
    await measure(`embed_${side}_images_per_s`, `embedding with ${sizes.encoder.file}, batch ${embed.batchSize}, on ${device}`, 'images/s', () =>
      embedRate(sizes.encoder, device, embed.batchSize, embed.seconds),
    );
    await measure(`search_${side}_gflops`, `exact search of ${search.queries} queries over ${search.pool} x 128 on ${device}`, 'GFLOP/s', async () => {
      const result = await python(['search', '--device', device, '--pool', String(search.pool), '--queries', String(search.queries), '--seconds', String(search.seconds)]);
      if (result.device_name) figures.gpu = result.device_name;
      return Number(result.gflops);
    });
  }
  if (Object.keys(errors).length > 0) figures.errors = errors;
  console.log(JSON.stringify(figures));
  return Object.keys(errors).length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
