import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { demoShards } from '../../lib/demo/materialize';
import { readShard } from '../../lib/webdataset/reader';

/** A 4x4 gray PNG. */
export const grayPng = (level: number) => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: level, g: level, b: level } } }).png().toBuffer();

/** `<root>/<class>/<i>.png`, n images of each class: the torchvision ImageFolder layout of a labeled set. */
export async function writeImageFolder(root: string, perClass: Record<string, number>): Promise<void> {
  for (const [name, n] of Object.entries(perClass)) {
    await mkdir(join(root, name), { recursive: true });
    for (let i = 0; i < n; i++) await writeFile(join(root, name, `${i}.png`), await grayPng((10 * i) % 256));
  }
}

/** The 4 Fashion-MNIST classes of a few-shot target kept as class-name folders. */
const FEW_SHOT_CLASSES: Record<number, string> = { 1: 'trouser', 5: 'sandal', 7: 'sneaker', 8: 'bag' };

/**
 * SEPT's few-shot setting as people keep it: `train/<class>/<n>.png` (10 a class) and
 * `test/<class>/<n>.png` (5 a class), real Fashion-MNIST test images of 4 classes, each handed to
 * `put` with its path below the set's root.
 */
export async function writeFewShotFolders(put: (path: string, png: Buffer) => Promise<void>): Promise<void> {
  const written: Record<string, number> = {};
  for await (const sample of readShard((await demoShards('fashion-mnist', 'test'))[0])) {
    const name = FEW_SHOT_CLASSES[(JSON.parse(sample.files.json!.toString('utf8')) as { label: number }).label];
    const n = name === undefined ? 15 : (written[name] ?? 0);
    if (n >= 15) continue;
    written[name] = n + 1;
    await put(`${n < 10 ? 'train' : 'test'}/${name}/${n}.png`, sample.files.png!);
  }
}
