import { isObjectUri, ObjectStore } from '../object-store';
import { braceNameCount, braceNames, checkBraceBound, globBody, SHARD_FILE, type ShardFile } from './expand';
import { SourceError } from './shard-ref';

/** A shard pattern over a bucket's keys: what to list, and which listed keys it names. */
export interface KeyPattern {
  bucket: string;
  /** The literal start of the pattern: the listing's prefix. */
  prefix: string;
  /** No range and no glob: the pattern is one key, or a prefix. */
  literal: boolean;
  /** Whether the pattern goes no deeper than the prefix's level, so the listing may stop there (delimiter `/`). */
  oneLevel: boolean;
  hasGlob: boolean;
  /** The numbers of the pattern's brace ranges in a key it names (undefined: not named), in expansion order. */
  match(key: string): number[] | undefined;
}

/**
 * Parses `s3://bucket/prefix/pool-{00000..09999}.tar` or `s3://bucket/prefix/*.tar` the way local
 * patterns read (lib/sources/expand.ts): a brace range stands for its numbers zero-padded to the
 * width of its first bound, `*` and `?` for any characters but `/`. Ranges are matched, not expanded.
 */
export function parseKeyPattern(uri: string): KeyPattern {
  checkBraceBound(uri);
  const { store, key } = ObjectStore.at(uri);
  const token = /\{(\d+)\.\.(\d+)\}|[*?]/g;
  const ranges: { width: number; from: number; to: number }[] = [];
  let body = '';
  let at = 0;
  let literalEnd: number | undefined;
  for (const m of key.matchAll(token)) {
    literalEnd ??= m.index;
    body += globBody(key.slice(at, m.index));
    if (m[1] === undefined) body += globBody(m[0]);
    else {
      ranges.push({ width: m[1].length, from: Number(m[1]), to: Number(m[2]) });
      body += '(\\d+)';
    }
    at = m.index + m[0].length;
  }
  body += globBody(key.slice(at));
  const prefix = key.slice(0, literalEnd ?? key.length);
  const regex = new RegExp(`^${body}$`);
  return {
    bucket: store.bucket,
    prefix,
    literal: literalEnd === undefined,
    oneLevel: !key.slice(prefix.length).includes('/'),
    hasGlob: /[*?]/.test(key.replace(/\{(\d+)\.\.(\d+)\}/g, '')),
    match(candidate) {
      const m = regex.exec(candidate);
      if (!m) return undefined;
      const numbers = ranges.map((r, i) => ({ text: m[i + 1], n: Number(m[i + 1]), r }));
      const named = numbers.every(({ text, n, r }) => n >= r.from && n <= r.to && String(n).padStart(r.width, '0') === text);
      return named ? numbers.map(({ n }) => n) : undefined;
    },
  };
}

const byNumbers = (a: { numbers: number[]; key: string }, b: { numbers: number[]; key: string }) => {
  for (let i = 0; i < a.numbers.length; i++) if (a.numbers[i] !== b.numbers[i]) return a.numbers[i] - b.numbers[i];
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
};

/**
 * Resolves one `s3://` `shards` entry to its shard objects with their sizes and ETags: an object
 * (`….tar`), a prefix (the shards right under it), a brace range or a `*` glob. One listing
 * (ListObjectsV2, every page; `pageSize` keys a page) serves a whole pattern, never a request per
 * name. As for local files, every name of a brace range must exist; a glob names what is there.
 */
export async function listBucketShards(uri: string, opts: { pageSize?: number } = {}): Promise<ShardFile[]> {
  if (!isObjectUri(uri)) throw new SourceError(`not an s3:// URI: ${uri}`);
  const pattern = parseKeyPattern(uri);
  const store = new ObjectStore(`s3://${pattern.bucket}`);
  const object = (key: string, size: number, etag: string): ShardFile => ({ path: `s3://${pattern.bucket}/${key}`, bytes: size, version: etag });
  if (pattern.literal && SHARD_FILE.test(pattern.prefix)) {
    const found = await store.head(pattern.prefix);
    if (!found) throw new SourceError(`no such shard: ${uri}`);
    return [object(found.key, found.size, found.etag)];
  }
  if (pattern.literal) {
    const folder = pattern.prefix === '' || pattern.prefix.endsWith('/') ? pattern.prefix : `${pattern.prefix}/`;
    const shards: ShardFile[] = [];
    for await (const o of store.listObjects(folder, { delimiter: '/', pageSize: opts.pageSize })) if (SHARD_FILE.test(o.key)) shards.push(object(o.key, o.size, o.etag));
    return shards;
  }
  const named: { numbers: number[]; key: string; size: number; etag: string }[] = [];
  for await (const o of store.listObjects(pattern.prefix, { delimiter: pattern.oneLevel ? '/' : undefined, pageSize: opts.pageSize })) {
    const numbers = pattern.match(o.key);
    if (numbers && (!pattern.hasGlob || SHARD_FILE.test(o.key))) named.push({ numbers, ...o });
  }
  if (!pattern.hasGlob && BigInt(named.length) < braceNameCount(uri)) {
    const listed = new Set(named.map((n) => `s3://${pattern.bucket}/${n.key}`));
    for (const name of braceNames(uri)) if (!listed.has(name)) throw new SourceError(`no such shard: ${name}`);
  }
  return named.sort(byNumbers).map((n) => object(n.key, n.size, n.etag));
}
