import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../files/atomic-write';
import { dataDir } from '../../paths';
import type { TestEncoder } from './models';

export { DEMO_CNN, RESNET18, RESNET50, type TestEncoder } from './models';

/**
 * Writes a test encoder (RANDOM weights) under `<data>/encoders/` once and returns its path. The
 * bytes are deterministic, so concurrent writers race harmlessly to the same content.
 */
export async function ensureTestEncoder(encoder: TestEncoder, dir = join(dataDir(), 'encoders')): Promise<string> {
  const path = join(dir, encoder.file);
  if (existsSync(path)) return path;
  await writeFileAtomic(path, encoder.build());
  return path;
}
