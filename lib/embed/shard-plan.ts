import type { SourceSpec } from '../config/sources';
import { readLocationRange, writeLocation } from '../storage/location';
import { readRecord, recordOf } from '../storage/record';
import { listAllShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';

/**
 * A pool's shards, listed once into a file (one ShardRef per line): workflows page through it, and
 * pass it by reference, instead of carrying 100,000 refs. Beside it, `<path>.offsets` holds where
 * each line starts (little-endian 64-bit byte offsets, one per shard and one for the end), so that
 * a page costs its own bytes, not the plan's.
 */
export interface ShardPlan {
  /** Its location (lib/storage/location.ts): a local path, or an object in a bucket. */
  path: string;
  total: number;
  /**
   * The plan's size in bytes, which says it has offsets beside it. Plans listed by 0.4.0 and
   * before, still carried by executions in flight, have neither and are read whole.
   */
  bytes?: number;
}

const OFFSET_BYTES = 8;

const offsetsOf = (plan: Pick<ShardPlan, 'path'>) => `${plan.path}.offsets`;

/** Lists a pool's sources into a plan at `path`, its offsets beside it. */
export async function writeShardPlan(sources: SourceSpec[], path: string): Promise<ShardPlan> {
  return writeShardList(await listAllShards(sources, 'pool.sources'), path);
}

/** Shards already listed, in the order given, as a plan at `path`, its offsets beside it. */
export async function writeShardList(shards: ShardRef[], path: string): Promise<ShardPlan> {
  const lines = shards.map((s) => Buffer.from(`${JSON.stringify(s)}\n`));
  const offsets = Buffer.alloc((lines.length + 1) * OFFSET_BYTES);
  let at = 0;
  lines.forEach((line, i) => {
    offsets.writeBigUInt64LE(BigInt(at), i * OFFSET_BYTES);
    at += line.length;
  });
  offsets.writeBigUInt64LE(BigInt(at), lines.length * OFFSET_BYTES);
  // Each appears whole (lib/storage/location.ts); the plan reaches readers once both are written, and
  // one listed anew under a reader (another run of the same name) reads as torn: its size is checked.
  await writeLocation(path, Buffer.concat(lines));
  await writeLocation(offsetsOf({ path }), offsets);
  return { path, total: lines.length, bytes: at };
}

function shardOfPlan(line: string): ShardRef {
  const ref = JSON.parse(line) as Partial<ShardRef> | null;
  if (typeof ref?.id !== 'string' || typeof ref.path !== 'string') throw new Error(`not a shard: ${line.slice(0, 80)}`);
  return ref as ShardRef;
}

/** The page's shards of a plan read whole, which holds all `plan.total` of them: one torn short, or whose page does not parse, throws. */
function wholePlanPage(plan: ShardPlan, offset: number, limit: number) {
  return (text: string): ShardRef[] => {
    let lines = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', end + 1)) lines++;
    if (lines < plan.total) throw new Error(`${lines} whole lines where ${plan.total} shards were listed`);
    return text.split('\n', offset + limit).slice(offset).filter((l) => l !== '').map(shardOfPlan);
  };
}

/** A page of `count` whole lines, each a shard: fewer, more, or one that does not parse, throws. */
function planLines(count: number) {
  return (text: string): ShardRef[] => {
    const lines = text.split('\n');
    if (lines.pop() !== '' || lines.length !== count) throw new Error(`${lines.length} whole lines where the offsets place ${count}`);
    return lines.map(shardOfPlan);
  };
}

/**
 * Shards [offset, offset + limit) of a plan with offsets: two ranged reads, whatever the plan's size.
 * Offsets or a plan of another size than listed (torn, or listed anew meanwhile) read as torn.
 */
async function pageByOffset(plan: ShardPlan & { bytes: number }, offset: number, limit: number): Promise<ShardRef[] | undefined> {
  const first = Math.min(offset, plan.total);
  const count = Math.max(0, Math.min(limit, plan.total - first));
  const index = await readLocationRange(offsetsOf(plan), first * OFFSET_BYTES, (first + count + 1) * OFFSET_BYTES);
  if (!index) return undefined;
  const whole = index.size === (plan.total + 1) * OFFSET_BYTES && index.bytes.length === (count + 1) * OFFSET_BYTES;
  const at = (i: number) => Number(index.bytes.readBigUInt64LE(i * OFFSET_BYTES));
  const page = whole ? await readLocationRange(plan.path, at(0), at(count)) : undefined;
  if (whole && !page) return undefined;
  return recordOf(plan.path, page?.bytes.toString('utf8') ?? '', (text) => {
    if (!page) throw new Error(`${index.size} bytes of offsets where ${plan.total} shards were listed`);
    if (page.size !== plan.bytes) throw new Error(`${page.size} bytes where ${plan.bytes} were listed`);
    return planLines(count)(text);
  });
}

/** Shards [offset, offset + limit) of a plan. A plan gone or torn is listed again by the next run (planPoolShards). */
export async function readShardPlanPage(plan: ShardPlan, offset: number, limit: number): Promise<ShardRef[]> {
  const { bytes } = plan;
  const page = bytes === undefined ? await readRecord(plan.path, wholePlanPage(plan, offset, limit)) : await pageByOffset({ ...plan, bytes }, offset, limit);
  if (page === undefined) throw new Error(`the pool's shard plan ${plan.path} is gone or torn: start the run again to list the pool anew`);
  return page;
}

/** Every shard of a plan in order, read `pageSize` at a time: memory for a page, whatever the plan's size. */
export async function* planShards(plan: ShardPlan, pageSize = 1000): AsyncGenerator<ShardRef> {
  for (let offset = 0; offset < plan.total; offset += pageSize) yield* await readShardPlanPage(plan, offset, pageSize);
}
