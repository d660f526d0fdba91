import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { RunConfig } from '../config/schema';
import { RunLayout } from '../run-layout';
import { isObjectUri, ObjectStore } from '../object-store';
import { allowedLocation, allowedObject } from '../storage/access';
import { outputLocation } from '../storage/location';
import { checkpointStep, latestCheckpoint } from './checkpoints';

/**
 * Trainer checkpoints and final artifacts mirrored to object storage, so that GPU workers that
 * share no filesystem resume each other's work: to the run's own prefix when outputDir is a bucket
 * (where they are kept, and `trainer.checkpointUri` is not needed), else to `trainer.checkpointUri`.
 * The mirror has the layout of the run's output folder (lib/run-layout.ts): a local
 * `<outputDir>/<name>/train/<variant>/<job>/checkpoints/checkpoint-00000050.pt` is
 * `<checkpointUri>/<name>/train/<variant>/<job>/checkpoints/checkpoint-00000050.pt`.
 */

export interface MirrorLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** The checkpoint keys among `keys`, oldest step first. */
export function checkpointKeys(keys: string[]): { key: string; step: number }[] {
  return keys
    .map((key) => ({ key, step: checkpointStep(posix.basename(key)) }))
    .filter((c): c is { key: string; step: number } => c.step !== undefined)
    .sort((a, b) => a.step - b.step);
}

/** What to delete so that only the newest `keep` checkpoints stay, as the trainer does locally. */
export function checkpointsToPrune(keys: string[], keep: number): string[] {
  const checkpoints = checkpointKeys(keys);
  return checkpoints.slice(0, Math.max(0, checkpoints.length - keep)).map((c) => c.key);
}

/** Where a run's checkpoints are mirrored: its output prefix in a bucket, else `trainer.checkpointUri` (where this worker lets runs write), or nowhere. */
export function mirrorLocation(config: RunConfig): string | undefined {
  const output = outputLocation(config.outputDir);
  if (isObjectUri(output)) return output;
  const { checkpointUri } = config.trainer;
  return checkpointUri && allowedObject('trainer.checkpointUri', checkpointUri, 'write');
}

function mirrorStore(config: RunConfig): { store: ObjectStore; layout: RunLayout } | undefined {
  const uri = mirrorLocation(config);
  return uri ? { store: new ObjectStore(uri), layout: new RunLayout(config.outputDir, config.name) } : undefined;
}

/**
 * A checkpoint to start from (`initCheckpoint`, a trainModel's `pretrainedCheckpoint`), on this
 * machine: a file of the run's trainer folders (keyOf) at its place under this machine's output
 * folder, downloaded from the mirror when it is not there yet; any other path, and an object (a
 * bucket run's: the job stages it), as given, where this worker lets runs read (the path comes in
 * a workflow's arguments). As given too when the mirror lacks it: the trainer then names it missing.
 */
export async function localCheckpoint(config: RunConfig, path: string): Promise<string> {
  const mirror = mirrorStore(config);
  const key = mirror && !isObjectUri(path) ? mirror.layout.keyOf(path) : undefined;
  if (mirror && key) {
    const local = mirror.layout.fileOf(key);
    if (existsSync(local) || (await mirror.store.get(key, local))) return local;
  }
  return allowedLocation('pretrainedCheckpoint', path, 'read');
}

/**
 * The mirror of one trainer stage folder. Uploads run one at a time behind the trainer (its event
 * stream never waits): the newest checkpoint first, older ones it skips; a failed upload is logged
 * and retried with the next checkpoint, and once more by `flush`.
 */
export class CheckpointMirror {
  private latest?: { path: string; step: number };
  private uploadedStep = -1;
  private readonly artifacts = new Set<string>();
  private readonly uploaded = new Set<string>();
  /** Files that grow while the trainer runs (its events), by the size last uploaded. */
  private readonly growing = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private failure?: Error;

  private constructor(
    private readonly store: ObjectStore,
    private readonly layout: RunLayout,
    private readonly keep: number,
    private readonly log: MirrorLog,
  ) {}

  /** The mirror of a stage folder; undefined when outputDir is local and `trainer.checkpointUri` is not set. */
  static forStage(config: RunConfig, keep: number, log: MirrorLog): CheckpointMirror | undefined {
    const mirror = mirrorStore(config);
    return mirror && new CheckpointMirror(mirror.store, mirror.layout, keep, log);
  }

  private keyOf(path: string): string | undefined {
    return this.layout.keyOf(path);
  }

  /** The `s3://` URI of a mirrored file, undefined for a file outside the run's folder. */
  uriOf(path: string): string | undefined {
    const key = this.keyOf(path);
    return key && this.store.uriOf(key);
  }

  /**
   * Before the trainer starts: when the mirror holds a newer checkpoint than `checkpointDir` (another
   * machine's work), it is downloaded there (atomically), to be found by `latestCheckpoint`.
   */
  async restore(checkpointDir: string): Promise<{ uri: string; step: number } | undefined> {
    const prefix = this.keyOf(join(checkpointDir, 'checkpoint-'));
    if (!prefix) return undefined;
    const newest = checkpointKeys(await this.store.list(prefix)).at(-1);
    if (!newest) return undefined;
    this.uploadedStep = newest.step;
    const local = await latestCheckpoint(checkpointDir);
    if (local && local.step >= newest.step) return undefined;
    const file = join(checkpointDir, posix.basename(newest.key));
    if (!(await this.store.get(newest.key, file))) return undefined;
    const restored = { uri: this.store.uriOf(newest.key), step: newest.step };
    this.log.info('checkpoint restored from the mirror', { ...restored, localStep: local?.step ?? 0, path: file });
    return restored;
  }

  /** After each `checkpoint` event. */
  checkpointWritten(checkpoint: { path: string; step: number }): void {
    this.latest = { path: checkpoint.path, step: checkpoint.step };
    this.schedule();
  }

  /** After each `artifact` event (final weights, metrics, the exported encoder). */
  artifactWritten(path: string): void {
    this.artifacts.add(path);
    this.schedule();
  }

  /**
   * A file the job appends to (its events): uploaded whole with every checkpoint and when the
   * attempt ends, so that the next attempt, on any machine, appends to what this one wrote. Before
   * it is appended to, a longer copy in the mirror (another machine's attempt) replaces the local one.
   */
  async keepGrowing(path: string): Promise<void> {
    const key = this.keyOf(path);
    if (!key) return;
    const local = (await stat(path).catch(() => undefined))?.size ?? 0;
    const mirrored = (await this.store.head(key))?.size ?? 0;
    if (mirrored > local) await this.store.get(key, path);
    this.growing.set(path, mirrored);
  }

  /** Waits for the uploads in flight, and uploads what grew since; never throws (failures were logged). */
  async settle(): Promise<void> {
    if (this.growing.size > 0) this.schedule();
    await this.chain;
  }

  /** Retries what is not mirrored yet and waits; throws when something still is not. */
  async flush(): Promise<void> {
    this.schedule();
    await this.chain;
    if (this.failure) throw this.failure;
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    this.chain = this.chain.then(() => {
      this.queued = false;
      return this.sync();
    });
  }

  private async sync(): Promise<void> {
    try {
      const checkpoint = this.latest;
      const key = checkpoint && this.keyOf(checkpoint.path);
      if (key && checkpoint.step > this.uploadedStep) {
        await this.upload(checkpoint.path);
        this.uploadedStep = checkpoint.step;
        await this.prune(key);
      }
      for (const path of this.artifacts) await this.upload(path);
      for (const [path, size] of this.growing) {
        const now = (await stat(path).catch(() => undefined))?.size ?? 0;
        if (now === size) continue;
        await this.store.put(path, this.keyOf(path)!);
        this.growing.set(path, now);
      }
      this.failure = undefined;
    } catch (err) {
      this.failure = err as Error;
      this.log.warn('checkpoint mirror upload failed; retried with the next checkpoint', { error: (err as Error).message });
    }
  }

  private async upload(path: string): Promise<void> {
    const key = this.keyOf(path);
    if (!key || this.uploaded.has(key)) return;
    const started = Date.now();
    await this.store.put(path, key);
    this.uploaded.add(key);
    this.log.info('mirrored', { uri: this.store.uriOf(key), seconds: (Date.now() - started) / 1000 });
  }

  /** Deletes mirrored checkpoints older than the newest `keep`; a failure only logs (the next prune retries). */
  private async prune(checkpointKey: string): Promise<void> {
    const prefix = checkpointKey.replace(/[^/]*$/, 'checkpoint-');
    try {
      for (const key of checkpointsToPrune(await this.store.list(prefix), this.keep)) await this.store.delete(key);
    } catch (err) {
      this.log.warn('checkpoint mirror prune failed', { error: (err as Error).message });
    }
  }
}
