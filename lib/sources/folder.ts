import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write';
import { isObjectUri, ObjectStore } from '../object-store';
import { dataDir } from '../paths';
import type { ManifestEntry } from './manifest';
import { SourceError } from './shard-ref';
import { localFileVersion } from './source-files';

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

/** An image of a folder: where it is, its path below the folder (`/`-separated), and its version (size and mtime, or ETag). */
interface FolderImage {
  uri: string;
  rel: string;
  version: string;
}

async function imageFiles(root: string): Promise<FolderImage[]> {
  if (isObjectUri(root)) {
    const { store, key } = ObjectStore.at(root);
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const images: FolderImage[] = [];
    for await (const o of store.listObjects(prefix)) if (IMAGE_FILE.test(o.key)) images.push({ uri: `s3://${store.bucket}/${o.key}`, rel: o.key.slice(prefix.length), version: o.etag });
    return images.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  }
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch {
    throw new SourceError(`image folder not found: ${root}`);
  }
  const files = entries
    .filter((e) => e.isFile() && IMAGE_FILE.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return Promise.all(files.map(async (file) => ({ uri: file, rel: relative(root, file).split(sep).join('/'), version: (await localFileVersion(file)).version })));
}

/**
 * Lists an image folder or `s3://` prefix (recursively; jpg, png, webp) into a JSONL manifest under
 * the data dir, sorted by path so the listing, and hence every shard, is deterministic. Ids are
 * relative paths without extension; a file in a subfolder is labeled with the subfolder's name (one
 * per class). Each line carries its file's version, so a file replaced in place changes its shard's.
 */
export async function folderManifest(source: string, root: string): Promise<string> {
  const files = await imageFiles(root);
  if (files.length === 0) throw new SourceError(`image folder ${root} holds no jpg, png or webp files`);
  const lines = files.map(({ uri, rel, version }) => {
    const entry: ManifestEntry = { id: rel.replace(IMAGE_FILE, ''), uri, version };
    const slash = rel.indexOf('/');
    if (slash > 0) entry.label = rel.slice(0, slash);
    return JSON.stringify(entry);
  });
  const path = join(dataDir(), 'listings', `${source}-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.jsonl`);
  await writeFileAtomic(path, lines.join('\n') + '\n');
  return path;
}
