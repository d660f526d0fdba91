import { MAX_PASS_ACTIVITIES } from '../config/work-limits';
import { RetrievalInputError } from '../retrieval/errors';
import { braceNames } from '../sources/expand';
import { sourceSamples } from '../sources/samples';
import type { ShardRef } from '../sources/shard-ref';
import { deleteFolderLocation, locationIn, readExistingText, writeLocation } from '../storage/location';
import { type Sample, webdatasetKey } from '../webdataset/sample';
import { shardSetRange, writeShardSet } from '../webdataset/writer';

/**
 * Subset shards as a trainer's webdataset source names them: one brace range over them in order
 * (a payload of constant size, whatever their count), or none when no sample was selected.
 */
export interface SubsetShards {
  shards: string | [];
  samples: number;
}

/**
 * The pool id of a sample of subset shards (written here, or by the random sample, which copies the
 * same way): its json's `id`. Its own id names the subset (`subset/<key>`), not the pool image.
 */
export function subsetSamplePoolId(sample: Sample): string | undefined {
  if (!sample.files.json) return undefined;
  const { id } = JSON.parse(sample.files.json.toString('utf8')) as { id?: unknown };
  return typeof id === 'string' ? id : undefined;
}

/** The wanted samples of the pool shards, in shard order, each sample's json with its pool id added (subsetSamplePoolId). */
async function* selectedSamples(wanted: Map<string, Set<string>>, poolShards: ShardRef[]): AsyncGenerator<Sample> {
  for (const ref of poolShards) {
    const ids = wanted.get(ref.id);
    if (!ids) continue;
    for await (const { id, image, sample } of sourceSamples(ref)) {
      // A later sample under a selected id is a duplicate, never the one embedded.
      if (!image || !ids.has(id)) continue;
      const meta = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as Record<string, unknown>) : {};
      yield { key: webdatasetKey(id), files: { ...sample.files, json: Buffer.from(JSON.stringify({ ...meta, id })) } };
    }
  }
}

/**
 * Copies the selected samples out of their pool shards into subset shards of `shardSize`, bytes as
 * stored (the trainer decodes them as it would the pool), in a folder or under a bucket prefix. Each sample's json gains its pool id.
 * Stale shards of an earlier attempt are removed first.
 */
export async function writeSubsetShards(manifestFile: string, poolShards: ShardRef[], outDir: string, shardSize: number): Promise<SubsetShards> {
  const wanted = await selectedByShard(manifestFile);
  await deleteFolderLocation(outDir);
  const { shards, samples } = await writeShardSet(outDir, 'subset', shardSize, selectedSamples(wanted, poolShards));
  return { shards: shards.length > 0 ? shardSetRange(outDir, 'subset', shards.length) : [], samples };
}

/** The manifest's samples by the pool shard that holds them. */
async function selectedByShard(manifestFile: string): Promise<Map<string, Set<string>>> {
  const wanted = new Map<string, Set<string>>();
  for (const line of (await readExistingText(manifestFile)).split('\n')) {
    if (!line) continue;
    const { id, shard_id } = JSON.parse(line) as { id: string; shard_id: string };
    (wanted.get(shard_id) ?? wanted.set(shard_id, new Set()).get(shard_id)!).add(id);
  }
  return wanted;
}

/**
 * A run of consecutive pool shards and the samples selected from them: what one activity copies
 * into subset shards of its own, numbered from `firstShard`.
 */
export interface SubsetShardGroup {
  /** The subset shards of every group before this one: each group's numbers are fixed, whatever order the groups finish in. */
  firstShard: number;
  shardSize: number;
  samples: number;
  poolShards: { shard: ShardRef; ids: string[] }[];
}

/** The subset as groups to copy, in files under `groupsDir`: how many, and the samples and subset shards they hold together. */
export interface SubsetShardPlan {
  groups: number;
  samples: number;
  shards: number;
}

const groupFile = (groupsDir: string, group: number) => locationIn(groupsDir, `group-${String(group).padStart(6, '0')}.json`);

/**
 * Consecutive pool shards (with the samples selected from each, in pool shard order) grouped to at
 * least `groupSamples` samples a group but the last, or more where they would make more than
 * MAX_PASS_ACTIVITIES groups. The groups' subset shards are numbered in pool shard order, so that
 * together they are the range `subset-{000000..}` of one writer's samples in the same order; only a
 * group's last shard may hold fewer than `shardSize`.
 */
export function subsetShardGroups(selected: SubsetShardGroup['poolShards'], shardSize: number, groupSamples: number): SubsetShardGroup[] {
  const samples = selected.reduce((n, s) => n + s.ids.length, 0);
  const target = Math.max(groupSamples, Math.ceil(samples / MAX_PASS_ACTIVITIES));
  const groups: SubsetShardGroup[] = [];
  let group: SubsetShardGroup = { firstShard: 0, shardSize, samples: 0, poolShards: [] };
  for (const s of selected) {
    group.poolShards.push(s);
    group.samples += s.ids.length;
    if (group.samples >= target) {
      groups.push(group);
      group = { firstShard: group.firstShard + Math.ceil(group.samples / shardSize), shardSize, samples: 0, poolShards: [] };
    }
  }
  if (group.samples > 0) groups.push(group);
  return groups;
}

/**
 * Plans the subset's copy as groups of consecutive pool shards (subsetShardGroups), one file each
 * under `dirs.groups`: memory for the selection, whatever the pool (`poolShards` may be read page
 * by page). Removes the subset shards and groups of an earlier attempt first: a group
 * retried rewrites its own shards and no others.
 */
export async function planSubsetShardGroups(
  manifestFile: string,
  poolShards: Iterable<ShardRef> | AsyncIterable<ShardRef>,
  dirs: { shards: string; groups: string },
  shardSize: number,
  groupSamples: number,
): Promise<SubsetShardPlan> {
  const wanted = await selectedByShard(manifestFile);
  const selected: SubsetShardGroup['poolShards'] = [];
  for await (const shard of poolShards) {
    const ids = wanted.get(shard.id);
    if (ids) selected.push({ shard, ids: [...ids] });
  }
  const groups = subsetShardGroups(selected, shardSize, groupSamples);
  await deleteFolderLocation(dirs.shards);
  await deleteFolderLocation(dirs.groups);
  for (const [g, group] of groups.entries()) await writeLocation(groupFile(dirs.groups, g), JSON.stringify(group));
  const last = groups.at(-1);
  return { groups: groups.length, samples: groups.reduce((n, g) => n + g.samples, 0), shards: last ? last.firstShard + Math.ceil(last.samples / shardSize) : 0 };
}

/**
 * Copies group `group` of a plan (planSubsetShardGroups) into its subset shards in `outDir`. A pool
 * shard that no longer holds every sample selected from it (changed since it was embedded) fails
 * the copy: the subset's range would have a gap.
 */
export async function writeSubsetShardGroup(groupsDir: string, group: number, outDir: string): Promise<{ samples: number; shards: number }> {
  const { firstShard, shardSize, samples, poolShards } = JSON.parse(await readExistingText(groupFile(groupsDir, group))) as SubsetShardGroup;
  const wanted = new Map(poolShards.map((s) => [s.shard.id, new Set(s.ids)]));
  const set = await writeShardSet(outDir, 'subset', shardSize, selectedSamples(wanted, poolShards.map((s) => s.shard)), firstShard);
  if (set.samples !== samples) {
    throw new RetrievalInputError(
      `subset group ${group} found ${set.samples} of the ${samples} samples selected from pool shards ${poolShards[0].shard.id}..${poolShards.at(-1)!.shard.id}: ` +
        'a pool shard changed since it was embedded; embed the pool again and select anew',
    );
  }
  return { samples, shards: set.shards.length };
}

/** The subset shards' locations in order, from what a result names: a range, or a list in results of 0.4.0 and before. */
export function subsetShardPaths(shards: string | string[]): string[] {
  return typeof shards === 'string' ? [...braceNames(shards)] : shards;
}
