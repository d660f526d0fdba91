// The reader of strace records that the shared-nothing test judges workers by: a path it misses
// is a check that cannot fail.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isUnder, readFileTrace } from '../../support/file-trace';
import { tempDir } from '../../support/tmp';

const RECORD = String.raw`
10 execve("/usr/bin/node", ["/usr/bin/node", "/elsewhere/argument.js"], 0x7ffe /* 47 vars */) = 0
10 openat(AT_FDCWD</work>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
10 openat(AT_FDCWD</work>, "data/x.tar", O_RDONLY|O_CLOEXEC) = 4</work/data/x.tar>
10 openat(AT_FDCWD</work>, "/r/cache/.e.tmp-1", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666 <unfinished ...>
11 newfstatat(5</r/a>, "b", {st_mode=S_IFDIR|0755, st_size=4096, ...}, AT_SYMLINK_NOFOLLOW) = 0
10 <... openat resumed>) = 6</r/cache/.e.tmp-1>
11 unlinkat(5</r/a b>, "f\"g", 0) = 0
11 utimensat(7</r/cache/e>, NULL, [UTIME_NOW, UTIME_NOW], 0) = 0
11 rename("/r/cache/.e.tmp-1", "/other/e") = 0
12 chdir("/r/tmp") = 0
12 mkdir("job", 0777) = 0
12 statx(AT_FDCWD</r/tmp>, "/gone/\303\251", AT_STATX_SYNC_AS_STAT, STATX_ALL, 0x7f) = -1 ENOENT (No such file or directory)
12 +++ exited with 0 +++
`;

describe('strace records', () => {
  it('reads every path a call named or was handed, absolute, and whether it wrote', () => {
    const log = join(tempDir(), 'record.strace');
    writeFileSync(log, RECORD);
    const seen = readFileTrace(log, '/work').map(({ pid, syscall, path, write }) => `${pid} ${syscall} ${path}${write ? ' (write)' : ''}`);
    assert.deepEqual(seen, [
      '10 execve /usr/bin/node',
      '10 openat /etc/ld.so.cache',
      '10 openat /etc/ld.so.cache',
      '10 openat /work/data/x.tar',
      '10 openat /work/data/x.tar',
      '10 openat /r/cache/.e.tmp-1 (write)',
      '11 newfstatat /r/a/b',
      '11 unlinkat /r/a b/f"g (write)',
      '11 utimensat /r/cache/e (write)',
      '11 rename /r/cache/.e.tmp-1 (write)',
      '11 rename /other/e (write)',
      '12 chdir /r/tmp',
      '12 mkdir /r/tmp/job (write)',
      '12 statx /gone/é',
    ]);
  });

  it('tells a path below a folder from one beside it', () => {
    assert.ok(isUnder('/r/cache/e', '/r'));
    assert.ok(isUnder('/r', '/r'));
    assert.ok(!isUnder('/r2/cache', '/r'));
    assert.ok(!isUnder('/', '/r'));
  });
});
