import { basename, dirname } from 'node:path';
import type { SourceSpec } from '../config/sources';
import { demoShards, demoShardVersion } from '../demo/materialize';
import { isObjectUri } from '../object-store';
import { resolveDataPath } from '../paths';
import { listBucketShards } from './bucket-shards';
import { expandShardPattern, type ShardFile } from './expand';
import { folderShards } from './folder';
import { manifestShards } from './manifest';
import { type ShardRef, SourceError } from './shard-ref';
import { localFileVersion } from './source-files';

function shardName(path: string): string {
  return basename(path).replace(/\.(tar|tar\.gz|tgz)$/i, '');
}

function toRefs(source: string, files: ShardFile[]): ShardRef[] {
  const refs = files.map(({ path, bytes, version }) => ({ id: `${source}/${shardName(path)}`, source, path, version, bytes }));
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
      return Promise.all(
        paths.map(async (path) => {
          const { bytes } = await localFileVersion(path);
          return { id: `${spec.dataset}/${basename(dirname(path))}-${shardName(path)}`, source: spec.dataset, path, bytes, version: demoShardVersion(bytes) };
        }),
      );
    }
    case 'webdataset': {
      const patterns = (Array.isArray(spec.shards) ? spec.shards : [spec.shards]).map(resolveDataPath);
      const files = (await Promise.all(patterns.map((p) => (isObjectUri(p) ? listBucketShards(p) : expandShardPattern(p))))).flat();
      if (files.length === 0) throw new SourceError(`webdataset source ${spec.shards}: no .tar or .tar.gz shards found`);
      const source = spec.name ?? basename(patterns.length === 1 && !/\.(tar|tar\.gz|tgz)$/i.test(patterns[0]) ? patterns[0] : dirname(files[0].path));
      return toRefs(source, files);
    }
    case 'folder': {
      const root = resolveDataPath(spec.path);
      const source = spec.name ?? basename(root);
      return folderShards(source, root, spec.shardSize);
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
