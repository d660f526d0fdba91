import { basename, dirname, join } from 'node:path';
import type { SourceSpec } from '../config/sources';
import { demoShards, demoShardVersion } from '../demo/materialize';
import { isObjectUri } from '../object-store';
import { allowedLocation, readablePath } from '../storage/access';
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

/**
 * A `shards` entry let through the door for reading, resolved: its literal start up to the folder of
 * its first range or glob, which holds everything it can name.
 */
function shardPattern(field: string, pattern: string): string {
  const wild = pattern.search(/\{\d+\.\.\d+\}|[*?]/);
  const literal = wild < 0 ? pattern : pattern.slice(0, pattern.lastIndexOf('/', wild) + 1);
  const root = allowedLocation(field, literal, 'read');
  const rest = pattern.slice(literal.length);
  return isObjectUri(root) ? root + rest : join(root, rest);
}

/**
 * What a source names (a webdataset source's `shards` patterns, a folder or a manifest), resolved,
 * each where this worker lets runs read (lib/storage/access.ts); a ConfigError names the field
 * (`field` is the source's own, such as `pool.sources[0]`). Nothing is read.
 */
export function sourceLocations(spec: SourceSpec, field: string): string[] {
  switch (spec.kind) {
    case 'demo':
      return [];
    case 'webdataset':
      return Array.isArray(spec.shards) ? spec.shards.map((p, i) => shardPattern(`${field}.shards[${i}]`, p)) : [shardPattern(`${field}.shards`, spec.shards)];
    case 'folder':
    case 'manifest':
      return [allowedLocation(`${field}.path`, spec.path, 'read')];
  }
}

/** Lists a source as deterministic shards, without decoding any image; `field` names it in refusals. */
export async function listShards(spec: SourceSpec, field = 'source'): Promise<ShardRef[]> {
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
      const patterns = sourceLocations(spec, field);
      const files = (await Promise.all(patterns.map((p) => (isObjectUri(p) ? listBucketShards(p) : expandShardPattern(p))))).flat();
      // A link in a shard folder may lead anywhere; a bucket's keys stay under the listed prefix.
      for (const file of files) if (!isObjectUri(file.path)) readablePath(`${field}.shards`, file.path);
      if (files.length === 0) throw new SourceError(`webdataset source ${spec.shards}: no .tar or .tar.gz shards found`);
      const source = spec.name ?? basename(patterns.length === 1 && !/\.(tar|tar\.gz|tgz)$/i.test(patterns[0]) ? patterns[0] : dirname(files[0].path));
      return toRefs(source, files);
    }
    case 'folder': {
      const [root] = sourceLocations(spec, field);
      const source = spec.name ?? basename(root);
      return folderShards(source, root, spec.shardSize);
    }
    case 'manifest': {
      const [manifest] = sourceLocations(spec, field);
      return manifestShards(spec.name ?? basename(manifest).replace(/\.jsonl?$/i, ''), manifest, spec.shardSize, `${field}.path`);
    }
  }
}

/** Every shard of these sources (a pool, a target split), in configuration order; `field` names the list in refusals. */
export async function listAllShards(sources: readonly SourceSpec[], field = 'sources'): Promise<ShardRef[]> {
  return (await Promise.all(sources.map((spec, i) => listShards(spec, `${field}[${i}]`)))).flat();
}
