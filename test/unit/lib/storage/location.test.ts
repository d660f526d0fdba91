import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataDir } from '../../../../lib/paths';
import {
  copyLocation,
  deleteLocation,
  listLocation,
  locationExists,
  locationIn,
  outputLocation,
  readLocationRange,
  readLocationText,
  relativeLink,
  writeLocation,
} from '../../../../lib/storage/location';
import { setEnv } from '../../../support/s3';
import { tempDir } from '../../../support/tmp';

describe('locations', () => {
  it('resolves an outputDir where this worker lets runs write: a bucket prefix as given, a relative path under the data dir', () => {
    const restore = setEnv({ SEPT_DATA_DIR: '/abs', SEPT_BUCKETS: 's3://bucket' });
    try {
      assert.equal(outputLocation('s3://bucket/runs/'), 's3://bucket/runs');
      assert.equal(outputLocation('runs'), join(dataDir(), 'runs'));
      assert.equal(outputLocation('/abs/runs'), '/abs/runs');
      assert.throws(() => outputLocation('s3://'), /outputDir: s3:\/\/ is not an s3:\/\/bucket\/prefix URI/);
      assert.throws(() => outputLocation('/elsewhere/runs'), /outputDir: \/elsewhere\/runs is outside the roots this worker writes \(SEPT_DATA_DIR=\/abs\)/);
      assert.throws(() => outputLocation('s3://other/runs'), /outputDir: s3:\/\/other\/runs is outside the buckets this worker writes \(SEPT_BUCKETS=s3:\/\/bucket\)/);
    } finally {
      restore();
    }
  });

  it('names locations inside folders and links between them, in a bucket as on disk', () => {
    assert.equal(locationIn('s3://bucket/runs/', 'r', 'stages/embed.json'), 's3://bucket/runs/r/stages/embed.json');
    assert.equal(locationIn('/out', 'r', 'report.md'), '/out/r/report.md');
    assert.equal(relativeLink('s3://bucket/runs/r', 's3://bucket/runs/r/figures'), 'figures');
    assert.equal(relativeLink('/out/r', '/out/r/figures'), 'figures');
    assert.equal(relativeLink('s3://bucket/runs/r/figures', 's3://bucket/runs/r/report.md'), '../report.md');
  });

  it('reads, writes, copies, lists and deletes local files', async () => {
    const dir = tempDir('septflow-location-');
    const record = locationIn(dir, 'r', 'stages', 'embed.json');
    assert.equal(await readLocationText(record), undefined, 'nothing there yet');
    assert.equal(await locationExists(record), false);
    await writeLocation(record, '{"key":"k"}');
    assert.equal(await readLocationText(record), '{"key":"k"}');
    assert.equal(await locationExists(record), true);
    await copyLocation(record, locationIn(dir, 'r', 'copy.json'));
    // A write under way is hidden: listings leave it out.
    mkdirSync(join(dir, 'r', 'figures'));
    writeFileSync(join(dir, 'r', 'figures', '.a.svg.tmp-1-abc'), 'partial');
    assert.deepEqual(await listLocation(join(dir, 'r')), [join(dir, 'r', 'copy.json'), record]);
    await deleteLocation(record);
    await deleteLocation(record);
    assert.deepEqual(await listLocation(join(dir, 'r')), [join(dir, 'r', 'copy.json')]);
    assert.deepEqual(await listLocation(join(dir, 'nothing')), []);
  });

  it('reads a byte range of a local file, and the size of the whole: less where it ends sooner, nothing where nothing is', async () => {
    const file = locationIn(tempDir('septflow-location-'), 'plan.jsonl');
    assert.equal(await readLocationRange(file, 0, 4), undefined);
    await writeLocation(file, '0123456789');
    const read = async (start: number, end: number) => {
      const range = await readLocationRange(file, start, end);
      return range && { text: range.bytes.toString(), size: range.size };
    };
    assert.deepEqual(await read(2, 5), { text: '234', size: 10 });
    assert.deepEqual(await read(8, 20), { text: '89', size: 10 });
    assert.deepEqual(await read(12, 20), { text: '', size: 10 });
    await assert.rejects(readLocationRange('/elsewhere/plan.jsonl', 0, 1), /outside the roots this worker reads/);
  });
});
