import { basename, dirname } from 'node:path';
import type { SourceSpec } from '../config/sources';
import { demoShards } from '../demo/materialize';
import { resolveDataPath } from '../paths';
import { expandShardPattern } from './expand';
import { folderManifest } from './folder';
import { manifestShards } from './manifest';
import { type ShardRef, SourceError } from './shard-ref';

function shardName(path: string): string {
  return basename(path).replace(/\.(tar|tar\.gz|tgz)$/i, '');
}

function toRefs(source: string, paths: string[]): ShardRef[] {
  const refs = paths.map((path) => ({ id: `${source}/${shardName(path)}`, source, path }));
  const seen = new Set<string>();
  for (const ref of refs) {
    if (seen.has(ref.id)) throw new SourceError(`source ${source}: two shards share the id ${ref.id}; give them distinct file names`);
    seen.add(ref.id);
  }
  return refs;
}

/** Lists a source as deterministic shards, without decoding any image. */
export async function listShards(spec: SourceSpec): Promise<ShardRef[]> {
  switch (spec.kind) {
    case 'demo': {
      // Demo splits are disjoint; the split joins the id so that train and test shards never collide.
      const paths = await demoShards(spec.dataset, spec.split);
      return paths.map((path) => ({ id: `${spec.dataset}/${basename(dirname(path))}-${shardName(path)}`, source: spec.dataset, path }));
    }
    case 'webdataset': {
      const patterns = (Array.isArray(spec.shards) ? spec.shards : [spec.shards]).map(resolveDataPath);
      const paths = (await Promise.all(patterns.map(expandShardPattern))).flat();
      if (paths.length === 0) throw new SourceError(`webdataset source ${spec.shards}: no .tar or .tar.gz shards found`);
      const source = spec.name ?? basename(patterns.length === 1 && !/\.(tar|tar\.gz|tgz)$/i.test(patterns[0]) ? patterns[0] : dirname(paths[0]));
      return toRefs(source, paths);
    }
    case 'folder': {
      const root = resolveDataPath(spec.path);
      const source = spec.name ?? basename(root);
      return manifestShards(source, await folderManifest(source, root), spec.shardSize);
    }
    case 'manifest': {
      const manifest = resolveDataPath(spec.path);
      return manifestShards(spec.name ?? basename(manifest).replace(/\.jsonl?$/i, ''), manifest, spec.shardSize);
    }
  }
}

/** Every shard of these sources (a pool, a target split), in configuration order. */
export async function listAllShards(sources: readonly SourceSpec[]): Promise<ShardRef[]> {
  return (await Promise.all(sources.map(listShards))).flat();
}
