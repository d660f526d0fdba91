// The order test/run.ts starts test files in, and the record it keeps of their times.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { longestFirst, readFileSeconds, recordFileSeconds } from '../../support/file-seconds';
import { tempDir } from '../../support/tmp';

describe('test file times', () => {
  it('starts the longest file first, files never timed before all, ties by name', () => {
    const seconds = { 'a.test.ts': 5, 'b.test.ts': 120, 'c.test.ts': 5 };
    assert.deepEqual(longestFirst(['/p/a.test.ts', '/p/c.test.ts', '/p/new.test.ts', '/p/b.test.ts'], seconds, (f) => f.slice(3)), [
      '/p/new.test.ts',
      '/p/b.test.ts',
      '/p/a.test.ts',
      '/p/c.test.ts',
    ]);
  });

  it('records a run over the earlier record, keeping the files the run did not time', () => {
    const path = join(tempDir(), 'seconds.json');
    recordFileSeconds('/p/a.test.ts\t3.5\n/p/b.test.ts\t9.0\n', (f) => f.slice(3), path);
    recordFileSeconds('/p/b.test.ts\t7.25\n/p/torn', (f) => f.slice(3), path);
    assert.deepEqual(readFileSeconds(path), { 'a.test.ts': 3.5, 'b.test.ts': 7.25 });
  });

  it('reads a missing or unreadable record as empty: it only orders files', () => {
    const dir = tempDir();
    assert.deepEqual(readFileSeconds(join(dir, 'none.json')), {});
    writeFileSync(join(dir, 'torn.json'), '{"a.test.ts": 3');
    assert.deepEqual(readFileSeconds(join(dir, 'torn.json')), {});
    writeFileSync(join(dir, 'list.json'), '[1, 2]');
    assert.deepEqual(readFileSeconds(join(dir, 'list.json')), {});
  });
});
