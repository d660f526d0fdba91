import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseKeyPattern } from '../../../../lib/sources/bucket-shards';
import { braceNameCount, expandBraces } from '../../../../lib/sources/expand';
import { entryPath } from '../../../../lib/sources/manifest';

describe('shard patterns over a bucket', () => {
  it('lists from the literal start of a brace range and matches its zero-padded numbers', () => {
    const p = parseKeyPattern('s3://pool/laion/pool-{00000..09999}.tar');
    assert.equal(p.bucket, 'pool');
    assert.equal(p.prefix, 'laion/pool-');
    assert.equal(p.oneLevel, true);
    assert.equal(p.literal, false);
    assert.equal(p.hasGlob, false);
    assert.deepEqual(p.match('laion/pool-00042.tar'), [42]);
    assert.deepEqual(p.match('laion/pool-09999.tar'), [9999]);
    assert.equal(p.match('laion/pool-10000.tar'), undefined, 'past the range');
    assert.equal(p.match('laion/pool-0042.tar'), undefined, 'another padding');
    assert.equal(p.match('laion/pool-00042.tar.gz'), undefined);
    assert.equal(p.match('laion/pool-00042Xtar'), undefined, 'a dot is a dot');
  });

  it('reads ranges as local patterns do: padded to the first bound, several ranges, globs within one level', () => {
    const unpadded = parseKeyPattern('s3://b/{1..12}.tar');
    assert.deepEqual(unpadded.match('10.tar'), [10]);
    assert.equal(unpadded.match('010.tar'), undefined);
    const two = parseKeyPattern('s3://b/part-{0..1}/shard-{000..002}.tar');
    assert.equal(two.prefix, 'part-');
    assert.equal(two.oneLevel, false, 'the pattern goes one folder deeper');
    assert.deepEqual(two.match('part-1/shard-002.tar'), [1, 2]);
    assert.equal(braceNameCount('s3://b/part-{0..1}/shard-{000..002}.tar'), 6n);
    const glob = parseKeyPattern('s3://b/data/*.tar');
    assert.equal(glob.prefix, 'data/');
    assert.equal(glob.hasGlob, true);
    assert.deepEqual(glob.match('data/anything-1.tar'), []);
    assert.equal(glob.match('data/deeper/x.tar'), undefined, '* does not cross a /');
    const literal = parseKeyPattern('s3://b/data/');
    assert.equal(literal.literal, true);
    assert.equal(literal.prefix, 'data/');
  });

  it('refuses a pattern that names more than 10 million shards, naming it, before listing or expanding', () => {
    assert.throws(() => parseKeyPattern('s3://b/pool-{00000000..99999999}.tar'), /shard pattern s3:\/\/b\/pool-\{00000000\.\.99999999\}\.tar expands to 100000000 names, more than the 10000000/);
    assert.throws(() => expandBraces('/data/pool-{0000..9999}-{0000..9999}.tar'), /shard pattern \/data\/pool-\{0000\.\.9999\}-\{0000\.\.9999\}\.tar expands to 100000000 names/);
    assert.deepEqual([...expandBraces('/data/pool-{08..10}.tar')], ['/data/pool-08.tar', '/data/pool-09.tar', '/data/pool-10.tar'], 'local expansion as before');
  });

  it('counts ranges of any length exactly: bounds past Number precision neither slip past the cap nor loop', () => {
    const nines = '9'.repeat(400);
    assert.throws(() => expandBraces(`/data/pool-{0..${nines}}.tar`), /expands to 10{400} names, more than the 10000000 a pattern may name \(SEPT_MAX_SHARD_NAMES\)/);
    // Both bounds are Infinity as Numbers: their difference was NaN, which passed every comparison.
    assert.equal(braceNameCount(`/data/pool-{${nines}..${nines}}.tar`), 1n);
    assert.deepEqual([...expandBraces('/data/p-{9007199254740993..9007199254740995}.tar')], ['/data/p-9007199254740993.tar', '/data/p-9007199254740994.tar', '/data/p-9007199254740995.tar']);
    assert.equal(braceNameCount('/data/p-{5..3}.tar'), 0n);
  });
});

describe('manifest entries in a bucket', () => {
  it('resolves relative uris to keys next to the manifest, keeps s3:// and absolute ones, and stays in the bucket', () => {
    assert.equal(entryPath('s3://b/sets/pets/train.jsonl', 'img/cat-1.png'), 's3://b/sets/pets/img/cat-1.png');
    assert.equal(entryPath('s3://b/sets/pets/train.jsonl', '../shared/dog.png'), 's3://b/sets/shared/dog.png');
    assert.equal(entryPath('s3://b/train.jsonl', 'cat.png'), 's3://b/cat.png');
    assert.equal(entryPath('s3://b/sets/train.jsonl', 's3://other/x.png'), 's3://other/x.png');
    assert.equal(entryPath('/data/train.jsonl', 's3://other/x.png'), 's3://other/x.png');
    assert.equal(entryPath('s3://b/sets/train.jsonl', '/mnt/x.png'), '/mnt/x.png');
    assert.throws(() => entryPath('s3://b/sets/train.jsonl', '../../x.png'), /leads out of the bucket/);
    assert.throws(() => entryPath('/data/train.jsonl', 'https://example.com/x.png'), /local files or s3:\/\/ objects/);
  });
});
