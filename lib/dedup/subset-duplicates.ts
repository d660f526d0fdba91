import type { SourceSpec } from '../config/sources';
import { stringsOf } from '../retrieval/arrow-vectors';
import { listAllShards } from '../sources/list-shards';
import { subsetSamplePoolId } from '../selection/subset-shards';
import { sourceSamples } from '../sources/samples';
import { openStore } from '../vectors/connect';
import { type DedupSettings, dedupTables } from './tables';

/** A pre-training set's images, and those of them beyond one per near-duplicate group. */
export interface SetDuplicates {
  images: number;
  /** Images whose group already has a member earlier in the set: what deduplicating the set would remove. */
  duplicates: number;
}

/**
 * Counts the near-duplicates in a pre-training set (an experiment arm's data) by the pool's groups
 * (lib/dedup/tables.ts, complete for the encoder and settings). A source of `poolSources` holds
 * pool images under their own ids; any other is subset shards (a selection's subset, a random
 * sample), whose samples carry their pool id (subsetSamplePoolId). Reads the set's sample ids,
 * never its images' pixels; memory: the grouped pool rows and the set's groups.
 */
export async function setDuplicates(
  store: string,
  encoderId: string,
  settings: DedupSettings,
  sources: SourceSpec[],
  poolSources: readonly SourceSpec[],
  onShard?: (done: number) => void,
): Promise<SetDuplicates> {
  const poolShards = await listAllShards(poolSources);
  const pool = new Set(poolShards.map((s) => s.source));
  // The whole pool as the set (the experiment's pool arm): listed once.
  const shards = JSON.stringify(sources) === JSON.stringify(poolSources) ? poolShards : await listAllShards(sources);
  const groups = await (await openStore(store)).openTable(dedupTables(encoderId, settings).groups);
  const representative = new Map<string, string>();
  for await (const batch of groups.query().select(['pool_id', 'representative'])) {
    const [id, rep] = ['pool_id', 'representative'].map((c) => stringsOf(batch.getChild(c)!));
    for (let i = 0; i < batch.numRows; i++) representative.set(id(i), rep(i));
  }
  const seen = new Set<string>();
  const counted: SetDuplicates = { images: 0, duplicates: 0 };
  let done = 0;
  for (const shard of shards) {
    for await (const { id, image, sample } of sourceSamples(shard)) {
      if (!image) continue;
      counted.images++;
      const group = representative.get(pool.has(shard.source) ? id : (subsetSamplePoolId(sample) ?? id));
      if (group === undefined) continue;
      if (seen.has(group)) counted.duplicates++;
      else seen.add(group);
    }
    onShard?.(++done);
  }
  return counted;
}
