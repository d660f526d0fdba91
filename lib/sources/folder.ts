// A folder source is its own listing. Its shards name the folder (ShardRef.path) and a span of its
// sorted relative paths (ShardRef.span), and whoever reads a shard lists that span again, on
// whatever machine it runs: nothing is written when a folder is listed, so its shards are readable
// by every worker that can read the folder, and need nothing else. The alternatives each break
// something: a listing file in the planning worker's data dir is readable on that machine only;
// one beside the source needs write access where people keep their data read-only; one in a run's
// outputs ties a source's shards to one run; carrying the lines in the ShardRef would put
// thousands of file names per shard into workflow histories.
//
// A shard's version is the hash of its lines, each with its file's size and mtime (or ETag), as a
// manifest shard's is: a file added, removed or replaced in a span since it was listed fails that
// shard (list the source again) rather than give other samples under its id. Listing a span again
// costs about what reading its images does: in a bucket, ListObjectsV2 from the span's start
// (StartAfter), a page per 1,000 keys; on disk, only the directories that can hold the span are
// read, names only, and only its files are stat'ed (a flat directory is still read whole for each
// of its shards).
//
// Paths sort by their UTF-8 bytes, the order in which a bucket lists keys, so that a span is one
// contiguous stretch of the listing there.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log';
import { isObjectUri, ObjectStore } from '../object-store';
import { allowedLocation } from '../storage/access';
import { linesVersion, type ManifestEntry } from './manifest';
import { type ShardRef, SourceError } from './shard-ref';
import { localFileVersion } from './source-files';

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

/** An image of a folder: where it is, its path below the folder (`/`-separated), and its version (size and mtime, or ETag). */
interface FolderImage {
  uri: string;
  rel: string;
  version: string;
}

/** Relative paths after the first ('' before every path), up to and including the second. */
type Span = [after: string, last: string];

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const inSpan = (rel: string, span?: Span) => !span || (byteOrder(rel, span[0]) > 0 && byteOrder(rel, span[1]) <= 0);

/** Whether a path below the subfolder `dir` (relative, ending in `/`) may lie in the span. */
function mayHold(dir: string, span?: Span): boolean {
  if (!span) return true;
  const [after, last] = span;
  // Every path below `dir` starts with it: all sort after `last` when `dir` does, and all before
  // `after` when `after` sorts after `dir` without starting with it.
  return byteOrder(dir, last) <= 0 && (byteOrder(after, dir) <= 0 || after.startsWith(dir));
}

async function bucketImages(root: string, span?: Span): Promise<FolderImage[]> {
  const { store, key } = ObjectStore.at(root);
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const images: FolderImage[] = [];
  const startAfter = span && span[0] !== '' ? prefix + span[0] : undefined;
  for await (const o of store.listObjects(prefix, { startAfter })) {
    const rel = o.key.slice(prefix.length);
    if (span && byteOrder(rel, span[1]) > 0) break;
    if (IMAGE_FILE.test(rel)) images.push({ uri: `s3://${store.bucket}/${o.key}`, rel, version: o.etag });
  }
  return images;
}

async function diskImages(root: string, span?: Span): Promise<FolderImage[]> {
  const files: string[] = [];
  // A link is never followed, to a file or a folder: it may lead out of the roots this worker
  // reads (lib/storage/access.ts judges the folder itself, links included), or round in a loop.
  let links = 0;
  const walk = async (dir: string) => {
    let entries;
    try {
      entries = await readdir(join(root, dir), { withFileTypes: true });
    } catch (err) {
      if (dir === '') throw new SourceError(`image folder not found: ${root}`);
      throw err;
    }
    for (const e of entries) {
      const rel = dir + e.name;
      if (e.isDirectory()) {
        if (mayHold(`${rel}/`, span)) await walk(`${rel}/`);
      } else if (e.isFile() && IMAGE_FILE.test(e.name) && inSpan(rel, span)) files.push(rel);
      else if (e.isSymbolicLink()) links++;
    }
  };
  await walk('');
  if (links > 0 && !span) log.warn({ folder: root, links }, 'image folder: symbolic links skipped, never followed');
  return Promise.all(files.map(async (rel) => ({ uri: join(root, rel), rel, version: (await localFileVersion(join(root, rel))).version })));
}

/** A folder's images (recursively; jpg, png, webp) in path order, those of a span only when given. */
async function folderImages(root: string, span?: Span): Promise<FolderImage[]> {
  const images = await (isObjectUri(root) ? bucketImages(root, span) : diskImages(root, span));
  return images.sort((a, b) => byteOrder(a.rel, b.rel));
}

/** An image as a manifest line: its id is its relative path without extension; in a subfolder, it is labeled with the subfolder's name (one per class). */
function entryOf({ uri, rel, version }: FolderImage): ManifestEntry {
  const entry: ManifestEntry = { id: rel.replace(IMAGE_FILE, ''), uri, version };
  const slash = rel.indexOf('/');
  if (slash > 0) entry.label = rel.slice(0, slash);
  return entry;
}

const entriesVersion = (entries: ManifestEntry[]) => linesVersion(Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join('')));

/**
 * Lists a folder or `s3://` prefix into shards of `shardSize` images, in path order: the same folder
 * always gives the same shards. Images of one id (`a.jpg` and `a.png`) share a shard, which may
 * then hold a few more than `shardSize`: its reader keeps the first and quarantines the others
 * (lib/sources/samples.ts), where two shards would each keep one under the same id.
 */
export async function folderShards(source: string, root: string, shardSize: number): Promise<ShardRef[]> {
  const images = await folderImages(root);
  if (images.length === 0) throw new SourceError(`image folder ${root} holds no jpg, png or webp files`);
  const entries = images.map(entryOf);
  const lastOfId = new Map(entries.map((e, i) => [e.id, i]));
  const refs: ShardRef[] = [];
  for (let start = 0, end: number; start < images.length; start = end) {
    end = Math.min(start + shardSize, images.length);
    for (let i = start; i < end; i++) end = Math.max(end, lastOfId.get(entries[i].id)! + 1);
    const span: Span = [start === 0 ? '' : images[start - 1].rel, images[end - 1].rel];
    refs.push({ id: `${source}/${String(refs.length).padStart(6, '0')}`, source, path: root, format: 'folder', span, version: entriesVersion(entries.slice(start, end)) });
  }
  return refs;
}

/** The entries of one folder shard, its span listed again; a span whose files changed since it was listed fails the shard. */
export async function readFolderShard(ref: ShardRef): Promise<ManifestEntry[]> {
  // Shards travel in workflow arguments: the folder is let through the door again where it is read.
  const entries = (await folderImages(allowedLocation(`shard ${ref.id} (path)`, ref.path, 'read'), ref.span)).map(entryOf);
  if (ref.version !== undefined && entriesVersion(entries) !== ref.version) {
    const span = ref.span ? `files after '${ref.span[0]}' up to '${ref.span[1]}'` : 'its files';
    throw new SourceError(`image folder ${ref.path} changed since shard ${ref.id} was listed (${span} differ): list the source again`);
  }
  return entries;
}
