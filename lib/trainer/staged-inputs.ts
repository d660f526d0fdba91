import type { PinnedFile } from '../cache/object-cache';
import type { SourceSpec } from '../config/sources';
import { listAllShards } from '../sources/list-shards';
import type { ShardRef } from '../sources/shard-ref';
import { pinLocalCopy } from '../storage/location';

/** Downloads at once while staging: enough to fill a link, few enough not to starve the rest of the worker. */
const PARALLEL = 4;

/** Shards as a trainer is given them: where they are on this machine, and what each holds. */
export interface TrainerShards {
  paths: string[];
  /**
   * Each shard's location and version as listed, parallel to `paths`: the same on every machine,
   * so a retry that staged the shards into another cache resumes (trainer/PROTOCOL.md, train_shard_ids).
   */
  ids: string[];
}

const shardId = (ref: ShardRef) => (ref.version === undefined ? ref.path : `${ref.path}#${ref.version}`);

/**
 * A trainer job's inputs as local files. The trainer opens its shards by path and reads them again
 * every epoch, in shuffled order, which local disk serves and a stream does not; so shards and
 * checkpoints in a bucket are staged into the worker's cache before the trainer starts (by whatever
 * machine runs the attempt, a retry's included), and pinned there until its process ends. Local
 * paths are used where they are.
 */
export class StagedInputs {
  private readonly pins: PinnedFile[] = [];
  /** Objects staged from a bucket, for the job's log. */
  staged = 0;

  /** Every shard of these sources, in order. */
  async shards(sources: SourceSpec[]): Promise<TrainerShards> {
    const refs = await listAllShards(sources);
    const paths: string[] = new Array(refs.length);
    let next = 0;
    const stageNext = async () => {
      while (next < refs.length) {
        const i = next++;
        paths[i] = await this.shard(refs[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, refs.length) }, stageNext));
    return { paths, ids: refs.map(shardId) };
  }

  /** A file (a checkpoint) at a local path or in a bucket, as a local path. */
  async file(location: string): Promise<string> {
    return this.pin(location);
  }

  /** Lets the cache evict what this job staged: its trainer is done with it. */
  async release(): Promise<void> {
    await Promise.all(this.pins.splice(0).map((pin) => pin.release()));
  }

  private shard(ref: ShardRef): Promise<string> {
    // A manifest shard is a listing of image files, which the trainer cannot read by any path.
    if (ref.format === 'manifest') return Promise.resolve(ref.path);
    return this.pin(ref.path, ref.version !== undefined && ref.bytes !== undefined ? { version: ref.version, size: ref.bytes } : undefined);
  }

  private async pin(location: string, known?: { version: string; size: number }): Promise<string> {
    const pinned = await pinLocalCopy(location, known);
    this.pins.push(pinned);
    if (pinned.path !== location) this.staged++;
    return pinned.path;
  }
}
