import type { RunConfig } from '../config/schema';
import type { SourceSpec } from '../config/sources';
import { listShards } from '../sources/list-shards';
import { readManifestShard } from '../sources/manifest';
import type { ShardRef } from '../sources/shard-ref';
import { readShard } from '../webdataset/reader';

/** One labeled target instance: train instances retrieve the subset, test instances drive the leakage guard. */
export interface TargetInstance {
  /** `<source>/<key>`, the id its vector is stored under. */
  id: string;
  label?: string;
  split: 'train' | 'test';
}

async function* labeledSamples(ref: ShardRef): AsyncGenerator<{ id: string; label?: string }> {
  if (ref.format === 'manifest') {
    for await (const entry of readManifestShard(ref)) yield { id: `${ref.source}/${entry.id}`, label: entry.label === undefined ? undefined : String(entry.label) };
    return;
  }
  for await (const sample of readShard(ref.path)) {
    const meta = sample.files.json ? (JSON.parse(sample.files.json.toString('utf8')) as { label?: unknown }) : {};
    const label = meta.label === undefined || meta.label === null ? undefined : String(meta.label);
    yield { id: `${ref.source}/${sample.key}`, label };
  }
}

async function listSplit(spec: SourceSpec, split: TargetInstance['split'], perClass?: number): Promise<TargetInstance[]> {
  const out: TargetInstance[] = [];
  const taken = new Map<string, number>();
  for (const ref of await listShards(spec)) {
    for await (const { id, label } of labeledSamples(ref)) {
      // Few-label tasks keep the first n images of each class in shard order, as the trainer does.
      if (perClass !== undefined) {
        const n = taken.get(label ?? '') ?? 0;
        if (n >= perClass) continue;
        taken.set(label ?? '', n + 1);
      }
      out.push({ id, label, split });
    }
  }
  return out;
}

/** The target task's instances, train then test, each in shard order, without decoding images. */
export async function listTargetInstances(target: RunConfig['target']): Promise<TargetInstance[]> {
  const [train, test] = await Promise.all([listSplit(target.train, 'train', target.labelsPerClass), listSplit(target.test, 'test')]);
  return [...train, ...test];
}
