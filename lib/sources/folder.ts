import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write';
import { dataDir } from '../paths';
import type { ManifestEntry } from './manifest';
import { SourceError } from './shard-ref';

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

async function imageFiles(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch {
    throw new SourceError(`image folder not found: ${root}`);
  }
  return entries
    .filter((e) => e.isFile() && IMAGE_FILE.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * Lists an image folder (recursively; jpg, png, webp) into a JSONL manifest under the data dir,
 * sorted by path so the listing, and hence every shard, is deterministic. Ids are relative paths
 * without extension; a file in a subfolder is labeled with the subfolder's name (one per class).
 */
export async function folderManifest(source: string, root: string): Promise<string> {
  const files = await imageFiles(root);
  if (files.length === 0) throw new SourceError(`image folder ${root} holds no jpg, png or webp files`);
  const lines = files.map((file) => {
    const rel = relative(root, file).split(sep).join('/');
    const entry: ManifestEntry = { id: rel.replace(IMAGE_FILE, ''), uri: file };
    const slash = rel.indexOf('/');
    if (slash > 0) entry.label = rel.slice(0, slash);
    return JSON.stringify(entry);
  });
  const path = join(dataDir(), 'listings', `${source}-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.jsonl`);
  await writeFileAtomic(path, lines.join('\n') + '\n');
  return path;
}
