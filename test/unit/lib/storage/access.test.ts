// The door every location a run names goes through (lib/storage/access.ts): local paths judged
// where they really are, keys by whole parts, every refusal a ConfigError naming the field.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { storageAccessFromEnv } from '../../../../lib/config/worker-settings';
import { ConfigError } from '../../../../lib/config/validate';
import { allowedLocation, allowedObject, folderName, readablePath, writablePath } from '../../../../lib/storage/access';
import { overrideEnv } from '../../../support/env';
import { tempDir } from '../../../support/tmp';

/** A ConfigError whose one issue matches. */
const refused = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.issues.length, 1);
  assert.match(err.issues[0], pattern);
  return true;
};

describe('the access door', () => {
  const setEnv = overrideEnv();
  // A machine in a folder: the worker's data dir, a read-only root, and what lies around them.
  const base = tempDir();
  const [data, shared, data2, outside] = ['data', 'shared', 'data2', 'outside'].map((d) => join(base, d));
  for (const d of [data, shared, data2, outside]) mkdirSync(d);
  writeFileSync(join(outside, 'secret'), 'outside');
  writeFileSync(join(shared, 'image.png'), 'shared');
  setEnv({ SEPT_DATA_DIR: data, SEPT_READ_ROOTS: shared, SEPT_BUCKETS: 's3://out/runs', SEPT_READ_BUCKETS: 's3://pool/pre s3://public' });

  it('takes paths inside the data dir, relative ones under it, for reading and writing', () => {
    assert.equal(readablePath('f', 'shards/a.tar'), join(data, 'shards', 'a.tar'));
    assert.equal(writablePath('f', join(data, 'runs')), join(data, 'runs'));
    assert.equal(writablePath('f', `${data}/runs/../lancedb/`), join(data, 'lancedb'), 'resolved as it is opened');
    assert.equal(writablePath('f', data), data);
  });

  it('reads a read root, never writes it', () => {
    assert.equal(readablePath('pool.sources[0].path', join(shared, 'image.png')), join(shared, 'image.png'));
    assert.throws(() => writablePath('outputDir', join(shared, 'runs')), refused(new RegExp(`^outputDir: ${join(shared, 'runs')} is outside the roots this worker writes \\(SEPT_DATA_DIR=${data}\\)$`)));
  });

  it('refuses `..` out of the roots, naming the field and the roots', () => {
    assert.throws(
      () => readablePath('target.train.path', `${data}/../outside/secret`),
      refused(new RegExp(`^target.train.path: ${data}/../outside/secret is outside the roots this worker reads \\(SEPT_DATA_DIR=${data}, SEPT_READ_ROOTS=${shared}\\)$`)),
    );
    assert.throws(() => readablePath('store.uri', '../outside'), refused(/^store\.uri: \.\.\/outside is outside/));
  });

  it('tells a root from a folder whose name starts like it', () => {
    assert.throws(() => readablePath('f', join(data2, 'x')), refused(/is outside the roots/));
    assert.throws(() => readablePath('f', `${shared}2`), refused(/is outside the roots/));
  });

  it('judges a path after its links: a link out is refused with where it leads, a link within is followed', () => {
    symlinkSync(outside, join(data, 'out-link'));
    symlinkSync(join(outside, 'secret'), join(data, 'secret-link'));
    symlinkSync(join(shared, 'image.png'), join(data, 'in-link'));
    assert.throws(() => readablePath('encoder.model', join(data, 'secret-link')), refused(new RegExp(`^encoder.model: ${data}/secret-link \\(${outside}/secret\\) is outside`)));
    assert.throws(() => readablePath('f', join(data, 'out-link', 'secret')), refused(/is outside the roots/));
    assert.throws(() => writablePath('outputDir', join(data, 'out-link', 'not', 'there', 'yet')), refused(/is outside the roots this worker writes/));
    assert.equal(readablePath('f', join(data, 'in-link')), join(data, 'in-link'));
    // `..` is taken by name before links, and what is opened is the path returned.
    assert.equal(readablePath('f', `${data}/out-link/../outside/secret`), join(data, 'outside', 'secret'));
  });

  it('follows a dangling link to where creating it would write', () => {
    symlinkSync(join(outside, 'created-later'), join(data, 'dangling'));
    assert.throws(() => writablePath('f', join(data, 'dangling')), refused(new RegExp(`\\(${outside}/created-later\\) is outside the roots this worker writes`)));
    symlinkSync(join(data, 'loop-b'), join(data, 'loop-a'));
    symlinkSync(join(data, 'loop-a'), join(data, 'loop-b'));
    assert.equal(writablePath('f', join(data, 'loop-a')), join(data, 'loop-a'), 'a loop opens nothing');
  });

  it('takes paths that are not there yet by their nearest existing parent', () => {
    assert.equal(writablePath('outputDir', join(data, 'runs', 'new', 'deeper')), join(data, 'runs', 'new', 'deeper'));
    assert.throws(() => writablePath('outputDir', join(outside, 'new', 'deeper')), refused(/is outside/));
    assert.throws(() => writablePath('outputDir', '/no-such-root/x'), refused(/is outside/));
  });

  it('refuses every scheme but s3://, file:// included, and paths with NUL', () => {
    assert.throws(() => allowedLocation('target.train.path', 'file:///etc/shadow', 'read'), refused(/^target\.train\.path: file:\/\/\/etc\/shadow: only local paths and s3:\/\/ URIs are supported$/));
    assert.throws(() => allowedLocation('store.uri', 'gs://bucket/x', 'write'), refused(/only local paths and s3:\/\//));
    assert.throws(() => allowedLocation('store.uri', 'db://lancedb-cloud', 'write'), refused(/only local paths and s3:\/\//));
    assert.throws(() => readablePath('f', `${data}/a\0b`), refused(/is not a path/));
  });

  it('takes keys under an allowed prefix by whole parts, never a prefix that merely starts alike', () => {
    assert.equal(allowedObject('outputDir', 's3://out/runs', 'write'), 's3://out/runs');
    assert.equal(allowedObject('outputDir', 's3://out/runs/', 'write'), 's3://out/runs/');
    assert.equal(allowedObject('f', 's3://out/runs/r/x.json', 'write'), 's3://out/runs/r/x.json');
    assert.throws(() => allowedObject('outputDir', 's3://out/runs2', 'write'), refused(/^outputDir: s3:\/\/out\/runs2 is outside the buckets this worker writes \(SEPT_BUCKETS=s3:\/\/out\/runs\)$/));
    assert.throws(() => allowedObject('f', 's3://out', 'write'), refused(/is outside the buckets/));
    assert.throws(() => allowedObject('f', 's3://out/', 'read'), refused(/is outside the buckets/));
    assert.throws(() => allowedObject('f', 's3://pool/prefix2/a.tar', 'read'), refused(/is outside the buckets this worker reads \(SEPT_BUCKETS=s3:\/\/out\/runs, SEPT_READ_BUCKETS=s3:\/\/pool\/pre,s3:\/\/public\)/));
    assert.throws(() => allowedObject('f', 's3://other/runs/x', 'read'), refused(/is outside the buckets/));
  });

  it('reads a read-only bucket, never writes it; a bucket without a prefix is allowed whole', () => {
    assert.equal(allowedObject('f', 's3://pool/pre/a.tar', 'read'), 's3://pool/pre/a.tar');
    assert.equal(allowedObject('f', 's3://public', 'read'), 's3://public');
    assert.equal(allowedObject('f', 's3://public/any/key', 'read'), 's3://public/any/key');
    assert.throws(() => allowedObject('trainer.checkpointUri', 's3://pool/pre/ckpt', 'write'), refused(/^trainer\.checkpointUri: s3:\/\/pool\/pre\/ckpt is outside the buckets this worker writes/));
  });

  it('refuses keys with . or .. parts, which some stores collapse', () => {
    assert.throws(() => allowedObject('f', 's3://out/runs/../secrets/x', 'write'), refused(/a key with \. or \.\. parts is refused/));
    assert.throws(() => allowedObject('f', 's3://out/runs/./x', 'write'), refused(/a key with \. or \.\. parts/));
    assert.throws(() => allowedObject('f', 's3:///key', 'read'), refused(/is not an s3:\/\/bucket\/key URI/));
  });

  it('allows no bucket by default', () => {
    setEnv({ SEPT_BUCKETS: '', SEPT_READ_BUCKETS: '' });
    try {
      assert.throws(() => allowedObject('pool.sources[0].shards', 's3://pool/pre/a.tar', 'read'), refused(/is outside the buckets this worker reads \(none: SEPT_BUCKETS and SEPT_READ_BUCKETS are not set\)$/));
      assert.throws(() => allowedObject('outputDir', 's3://out/runs', 'write'), refused(/\(none: SEPT_BUCKETS is not set\)$/));
    } finally {
      setEnv({ SEPT_BUCKETS: 's3://out/runs', SEPT_READ_BUCKETS: 's3://pool/pre s3://public' });
    }
  });

  it('takes a trainer variant as a folder name only', () => {
    assert.equal(folderName('variant', 'pretrain-0a1b2c'), 'pretrain-0a1b2c');
    assert.equal(folderName('variant', 'sept-s1'), 'sept-s1');
    for (const bad of ['..', '.', '../../etc', 'a/b', '/abs', '', '.hidden', 'x'.repeat(101)]) assert.throws(() => folderName('variant', bad), refused(/^variant: .* is not a folder name/), bad);
  });
});

describe('the access settings', () => {
  it('reads roots path-delimited and buckets comma- or space-separated, none by default', () => {
    assert.deepEqual(storageAccessFromEnv({ SEPT_DATA_DIR: '/d' }), { dataDir: '/d', readRoots: [], buckets: [], readBuckets: [] });
    assert.deepEqual(storageAccessFromEnv({ SEPT_DATA_DIR: '/d', SEPT_READ_ROOTS: '/a:/b/c/:', SEPT_BUCKETS: 's3://xxx, s3://yyy/p\ns3://z.b-1/p/q/', SEPT_READ_BUCKETS: 's3://public' }), {
      dataDir: '/d',
      readRoots: ['/a', '/b/c'],
      buckets: ['s3://xxx', 's3://yyy/p', 's3://z.b-1/p/q/'],
      readBuckets: ['s3://public'],
    });
  });

  it('refuses a bucket entry that is not s3://bucket[/prefix], naming the setting', () => {
    assert.throws(() => storageAccessFromEnv({ SEPT_BUCKETS: 's3://okay,gs://bucket' }), /invalid worker settings: SEPT_BUCKETS\[1\]: an s3:\/\/bucket or s3:\/\/bucket\/prefix URI/);
    assert.throws(() => storageAccessFromEnv({ SEPT_READ_BUCKETS: 's3://b/x/../y' }), /SEPT_READ_BUCKETS\[0\]: a prefix without \. or \.\. parts/);
    assert.throws(() => storageAccessFromEnv({ SEPT_BUCKETS: '*' }), /SEPT_BUCKETS\[0\]/);
  });
});
