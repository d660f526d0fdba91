import sharp, { type OverlayOptions } from 'sharp';
import { inputLimits } from '../input-limits';
import { sniffFormat } from '../preprocess/sniff';
import type { ShardRef } from '../sources/shard-ref';
import { writeLocation } from '../storage/location';
import type { TargetInstance } from './target-set';
import { sourceSamples } from '../sources/samples';

const TILE = 64;
const GAP = 4;
/** Extra space between a target and its neighbours. */
const DIVIDER = 16;

/** A few targets spread over classes: one per class in turn, in target order. */
export function sheetTargets(train: TargetInstance[], count: number): TargetInstance[] {
  const byClass = new Map<string, TargetInstance[]>();
  for (const t of train) (byClass.get(t.label ?? '') ?? byClass.set(t.label ?? '', []).get(t.label ?? '')!).push(t);
  const queues = [...byClass.values()];
  const out: TargetInstance[] = [];
  for (let i = 0; out.length < count && queues.some((q) => i < q.length); i++) {
    for (const q of queues) if (i < q.length && out.length < count) out.push(q[i]);
  }
  return out;
}

async function imagesOf(ids: Set<string>, shards: ShardRef[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const ref of shards) {
    for await (const { id, image } of sourceSamples(ref)) if (image && ids.has(id)) out.set(id, image);
  }
  return out;
}

const blankTile = () => sharp({ create: { width: TILE, height: TILE, channels: 3, background: '#ccc' } }).png().toBuffer();

/** An image as a tile: only the formats the embedder takes, within the worker's pixel cap; anything else is a blank tile. */
async function tile(bytes: Buffer | undefined): Promise<Buffer> {
  if (!bytes || !sniffFormat(bytes)) return blankTile();
  try {
    // Nearest-neighbour keeps 28x28 digits crisp instead of blurring them.
    return await sharp(bytes, { limitInputPixels: inputLimits().pixels }).resize(TILE, TILE, { fit: 'contain', kernel: 'nearest', background: '#000' }).toColourspace('srgb').png().toBuffer();
  } catch {
    // A tile only illustrates the selection: an image that will not decode here leaves it blank, never fails it.
    return blankTile();
  }
}

/**
 * A PNG with one row per target: the target image, then its nearest selected neighbours in rank
 * order, so a person can see what the selection took for what.
 */
export async function writeContactSheet(
  path: string,
  rows: { target: string; neighbours: string[] }[],
  sources: { targetShards: ShardRef[]; poolShards: ShardRef[] },
): Promise<void> {
  const columns = Math.max(1, ...rows.map((r) => r.neighbours.length));
  const images = new Map([
    ...(await imagesOf(new Set(rows.map((r) => r.target)), sources.targetShards)),
    ...(await imagesOf(new Set(rows.flatMap((r) => r.neighbours)), sources.poolShards)),
  ]);
  const layers: OverlayOptions[] = [];
  for (const [i, row] of rows.entries()) {
    const top = GAP + i * (TILE + GAP);
    layers.push({ input: await tile(images.get(row.target)), left: GAP, top });
    for (const [j, id] of row.neighbours.entries()) layers.push({ input: await tile(images.get(id)), left: GAP + TILE + DIVIDER + j * (TILE + GAP), top });
  }
  const width = GAP + TILE + DIVIDER + columns * (TILE + GAP);
  const height = GAP + rows.length * (TILE + GAP);
  await writeLocation(path, await sharp({ create: { width, height, channels: 3, background: '#fff' } }).composite(layers).png().toBuffer());
}
