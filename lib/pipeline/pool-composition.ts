import type { SourceSpec } from '../config/sources';
import { listAllShards } from '../sources/list-shards';
import { openStore } from '../vectors/connect';
import { openTable, tableNames } from '../vectors/tables';

/**
 * Pool images per source, as the subset was chosen from them: the vectors each shard of the pool
 * (`sources`) committed for the encoder (its shards table, one row per shard), summed per source (a
 * sample id's prefix is its shard's source). One scan of two columns of a table of shards: no
 * image is read, whatever the pool's size. `onProgress` hears the shard records read so far.
 */
export async function poolPerSource(
  store: string,
  encoderId: string,
  sources: SourceSpec[],
  onProgress?: (shardsRead: number) => void,
): Promise<Record<string, number>> {
  const shards = await listAllShards(sources, 'pool.sources');
  const embedded = new Map<string, number>();
  const table = await openTable(await openStore(store), tableNames(encoderId).shards);
  let read = 0;
  for await (const batch of table.query().select(['shard_id', 'embedded'])) {
    const ids = batch.getChild('shard_id')!;
    const counts = batch.getChild('embedded')!;
    for (let r = 0; r < batch.numRows; r++) embedded.set(String(ids.get(r)), Number(counts.get(r)));
    onProgress?.((read += batch.numRows));
  }
  const perSource: Record<string, number> = {};
  for (const shard of shards) {
    const n = embedded.get(shard.id) ?? 0;
    if (n > 0) perSource[shard.source] = (perSource[shard.source] ?? 0) + n;
  }
  return perSource;
}
