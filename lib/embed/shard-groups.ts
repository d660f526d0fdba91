import { stat } from 'node:fs/promises';
import { holdsImages, type ShardRef } from '../sources/shard-ref';

export interface ShardGrouping {
  /** Bytes of shard files one activity embeds at most (a shard larger than this goes alone). */
  maxBytes: number;
  /** Activities the workflow keeps in flight: groups never get so large that fewer would be left. */
  window: number;
}

/**
 * Consecutive shards grouped into embedding activities. Every activity costs a few round trips
 * and history events whatever its size, which small shards (1,000 28x28 PNGs embed in 0.1 s)
 * would pay per shard; a group carries up to `maxBytes` of tar files, and a page is cut into at
 * least `window` groups where it has that many shards, so that the work still spreads over every
 * lane and worker. Manifest and folder shards name their images by URI, so their size is unknown: alone.
 */
export async function groupShards(shards: ShardRef[], grouping: ShardGrouping): Promise<ShardRef[][]> {
  const perGroup = Math.max(1, Math.ceil(shards.length / grouping.window));
  // Plans written before shard sizes were listed name local tars only.
  const bytes = await Promise.all(shards.map(async (s) => (!holdsImages(s) ? Infinity : (s.bytes ?? (await stat(s.path)).size))));
  const groups: ShardRef[][] = [];
  let group: ShardRef[] = [];
  let groupBytes = 0;
  shards.forEach((shard, i) => {
    if (group.length > 0 && (group.length === perGroup || groupBytes + bytes[i] > grouping.maxBytes)) {
      groups.push(group);
      group = [];
      groupBytes = 0;
    }
    group.push(shard);
    groupBytes += bytes[i];
  });
  if (group.length > 0) groups.push(group);
  return groups;
}
