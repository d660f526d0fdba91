import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** A 4x4 gray PNG. */
export const grayPng = (level: number) => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: level, g: level, b: level } } }).png().toBuffer();

/** `<root>/<class>/<i>.png`, n images of each class: the torchvision ImageFolder layout of a labeled set. */
export async function writeImageFolder(root: string, perClass: Record<string, number>): Promise<void> {
  for (const [name, n] of Object.entries(perClass)) {
    await mkdir(join(root, name), { recursive: true });
    for (let i = 0; i < n; i++) await writeFile(join(root, name, `${i}.png`), await grayPng((10 * i) % 256));
  }
}
