// The worker decides, the run asks: every place a run names (in its configuration, in a manifest's
// lines, in a workflow's arguments) is let through here, and only when this worker's settings
// (lib/config/worker-settings.ts) allow it:
//
//   local paths   read: SEPT_DATA_DIR and SEPT_READ_ROOTS     write: SEPT_DATA_DIR
//   buckets       read: SEPT_BUCKETS and SEPT_READ_BUCKETS    write: SEPT_BUCKETS (none by default)
//
// A local path is resolved first (relative: under SEPT_DATA_DIR; `..` taken by name), then judged
// where it really is, after its symbolic links (a path not there yet by its nearest existing
// parent, a dangling link by where it points), so that no link leads out; callers open the resolved
// path returned, never the one they were given. A key is judged by
// whole `/`-separated parts (`s3://b/pre` allows `s3://b/pre/x`, never `s3://b/prefix2`), and a key
// with `.` or `..` parts is refused, since some stores and clients collapse them. A refusal is a
// ConfigError naming the field, thrown before anything is opened: no retry can help.
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../config/validate';
import { type StorageAccess, storageAccessFromEnv } from '../config/worker-settings';
import { isObjectUri } from '../object-store';

export type Access = 'read' | 'write';

interface BucketGrant {
  bucket: string;
  /** Without trailing `/`; '' for the whole bucket. */
  prefix: string;
}

interface Grants {
  settings: StorageAccess;
  buckets: BucketGrant[];
  readBuckets: BucketGrant[];
}

const OBJECT_URI = /^s3:\/\/([^/\s]+)(?:\/(.*))?$/is;

const grantOf = (uri: string): BucketGrant => {
  const [, bucket, key = ''] = OBJECT_URI.exec(uri)!;
  return { bucket, prefix: key.replace(/\/+$/, '') };
};

let cached: { key: string; grants: Grants } | undefined;

/** This process's grants; parsed again only when the settings behind them change (tests change them). */
function grants(env: NodeJS.ProcessEnv = process.env): Grants {
  const key = [env.SEPT_DATA_DIR, env.SEPT_READ_ROOTS, env.SEPT_BUCKETS, env.SEPT_READ_BUCKETS].join('\0');
  if (cached?.key !== key) {
    const settings = storageAccessFromEnv(env);
    cached = { key, grants: { settings, buckets: settings.buckets.map(grantOf), readBuckets: settings.readBuckets.map(grantOf) } };
  }
  return cached.grants;
}

/** Symbolic links followed at most, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

/**
 * Where an absolute path really is: its nearest existing ancestor's real path, plus the rest. A
 * dangling link is followed to where it points, since creating the file would create it there.
 */
function realPath(path: string, links = 0): string {
  const rest: string[] = [];
  for (let at = path; ; ) {
    try {
      return join(realpathSync.native(at), ...rest);
    } catch {
      let target: string | undefined;
      try {
        if (lstatSync(at).isSymbolicLink()) target = readlinkSync(at);
      } catch {
        // Not there (or not searchable): its parent decides.
      }
      if (target !== undefined && links < MAX_LINKS) return realPath(join(resolve(realPath(dirname(at), links + 1), target), ...rest), links + 1);
      const parent = dirname(at);
      if (parent === at) return join(at, ...rest);
      rest.unshift(basename(at));
      at = parent;
    }
  }
}

const within = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
};

function shownRoots(settings: StorageAccess, access: Access): string {
  const data = `SEPT_DATA_DIR=${settings.dataDir}`;
  if (access === 'write') return data;
  return settings.readRoots.length > 0 ? `${data}, SEPT_READ_ROOTS=${settings.readRoots.join(':')}` : `${data}; SEPT_READ_ROOTS is not set`;
}

function shownBuckets(settings: StorageAccess, access: Access): string {
  const listed = [['SEPT_BUCKETS', settings.buckets] as const, ...(access === 'read' ? [['SEPT_READ_BUCKETS', settings.readBuckets] as const] : [])];
  const set = listed.filter(([, list]) => list.length > 0);
  if (set.length === 0) return `none: ${listed.map(([name]) => name).join(' and ')} ${listed.length > 1 ? 'are' : 'is'} not set`;
  return set.map(([name, list]) => `${name}=${list.join(',')}`).join(', ');
}

const reads = (access: Access) => (access === 'read' ? 'reads' : 'writes');

/** A local path (relative: under SEPT_DATA_DIR) inside this worker's roots for `access`, resolved. */
function localPath(field: string, given: string, access: Access): string {
  if (given.includes('\0')) throw new ConfigError([`${field}: ${JSON.stringify(given)} is not a path`]);
  const { settings } = grants();
  const path = resolve(settings.dataDir, given);
  const real = realPath(path);
  const roots = access === 'read' ? [settings.dataDir, ...settings.readRoots] : [settings.dataDir];
  if (!roots.some((root) => within(realPath(root), real))) {
    const where = real === path ? '' : ` (${real})`;
    throw new ConfigError([`${field}: ${given}${where} is outside the roots this worker ${reads(access)} (${shownRoots(settings, access)})`]);
  }
  return path;
}

/** A local path a run reads from: inside SEPT_DATA_DIR or SEPT_READ_ROOTS. Relative paths are under SEPT_DATA_DIR. */
export function readablePath(field: string, path: string): string {
  return localPath(field, path, 'read');
}

/** A local path a run writes to: inside SEPT_DATA_DIR. Relative paths are under SEPT_DATA_DIR. */
export function writablePath(field: string, path: string): string {
  return localPath(field, path, 'write');
}

/** An `s3://bucket/key` URI (an object, or a prefix to list or write under) inside the buckets this worker allows for `access`. */
export function allowedObject(field: string, uri: string, access: Access): string {
  const match = OBJECT_URI.exec(uri);
  if (!match) throw new ConfigError([`${field}: ${uri} is not an s3://bucket/key URI`]);
  const [, bucket, key = ''] = match;
  if (key.split('/').some((part) => part === '.' || part === '..')) throw new ConfigError([`${field}: ${uri}: a key with . or .. parts is refused`]);
  const { settings, buckets, readBuckets } = grants();
  const name = key.replace(/\/+$/, '');
  const allowed = (access === 'read' ? [...buckets, ...readBuckets] : buckets).some(
    (grant) => grant.bucket === bucket && (grant.prefix === '' || name === grant.prefix || name.startsWith(`${grant.prefix}/`)),
  );
  if (!allowed) throw new ConfigError([`${field}: ${uri} is outside the buckets this worker ${reads(access)} (${shownBuckets(settings, access)})`]);
  return uri;
}

/** A location a run names: an `s3://` URI inside the allowed buckets, or a local path inside the roots (resolved, as readablePath). Other schemes are refused. */
export function allowedLocation(field: string, location: string, access: Access): string {
  if (isObjectUri(location)) return allowedObject(field, location, access);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new ConfigError([`${field}: ${location}: only local paths and s3:// URIs are supported`]);
  return localPath(field, location, access);
}

/** A name a run gives to one of its folders (a trainer variant): one path part, never `.`, `..` or a path. */
export const FOLDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const FOLDER_NAME_RULE = 'a folder name: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 100';

/** `name` when it is a folder name (FOLDER_NAME); a ConfigError naming `field` otherwise. */
export function folderName(field: string, name: string): string {
  if (!FOLDER_NAME.test(name)) throw new ConfigError([`${field}: ${JSON.stringify(name)} is not ${FOLDER_NAME_RULE}`]);
  return name;
}
