// A full disk while a worker writes: every writer (a shard, gzipped or not, a record, an object
// cache entry) fails its call with an error Temporal retries, leaves nothing behind, and the process
// lives on: a sibling task in it finishes its own shard. The writers run in a child process
// (test/hostile/disk-child.ts) whose `full` folder is a 1 MiB tmpfs, mounted in a mount namespace
// of its own (unshare; no root needed where user namespaces are allowed). Where no namespace can be
// made, the child runs under a file-size limit instead (`ulimit -f`): every write past it fails
// with EFBIG, through the same error paths as ENOSPC.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { projectRoot } from '../../lib/paths';

const CHILD = join(projectRoot, 'test', 'hostile', 'disk-child.ts');

/** How to start a program with `full` as a file system with no room for what the child writes, and the error code that says so. */
function fullDisk(full: string): { wrap: (command: string[]) => string[]; code: string; megabytes: number } {
  const mount = ['unshare', '--mount', '--map-root-user', 'sh', '-c', 'mount -t tmpfs -o size=1m septflow-full "$0" && exec "$@"', full];
  if (spawnSync(mount[0], [...mount.slice(1), 'true'], { stdio: 'ignore' }).status === 0) return { wrap: (command) => [...mount, ...command], code: 'ENOSPC', megabytes: 2 };
  // dash counts `ulimit -f` in 512-byte blocks, bash in KiB: 1 or 2 MiB, below what the child writes.
  return { wrap: (command) => ['sh', '-c', 'ulimit -f 2048 && exec "$@"', 'sh', ...command], code: 'EFBIG', megabytes: 4 };
}

describe('a full disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'septflow-hostile-disk-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails each write retryably, leaves nothing behind, and the process and its sibling task carry on', { timeout: 60_000 }, (t) => {
    const full = join(dir, 'full');
    const healthy = join(dir, 'healthy');
    mkdirSync(full);
    mkdirSync(healthy);
    const disk = fullDisk(full);
    t.diagnostic(`the full disk: ${disk.code === 'ENOSPC' ? 'a 1 MiB tmpfs' : 'a file-size limit'}`);
    const [command, ...args] = disk.wrap([process.execPath, '--import', 'tsx', CHILD, full, healthy, String(disk.megabytes)]);
    // Both folders lie in the child's data dir, where a worker lets runs write.
    const child = spawnSync(command, args, { cwd: projectRoot, encoding: 'utf8', timeout: 50_000, env: { ...process.env, SEPT_DATA_DIR: dir } });
    assert.equal(child.status, 0, `the writing process must survive (${child.signal ?? `exit ${child.status}`}):\n${child.stderr}`);
    const { results, siblingWrote, siblingRead, left } = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
      results: Record<string, { failed: boolean; code?: string; message?: string; retryable?: boolean }>;
      siblingWrote: number;
      siblingRead: number;
      left: string[];
    };
    for (const [writer, result] of Object.entries(results)) {
      assert.ok(result.failed, `${writer}: the write must fail`);
      assert.ok(result.code === disk.code || result.message?.includes(disk.code), `${writer}: ${result.code} ${result.message}`);
      assert.equal(result.retryable, true, `${writer}: a full disk is retried`);
    }
    assert.deepEqual([siblingWrote, siblingRead], [400, 400], 'the sibling wrote its whole shard');
    assert.deepEqual(left, [], 'no temporary file and no partial target is left on the full disk');
  });
});
