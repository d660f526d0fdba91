// What files a process tree touched, as the kernel saw it: strace records every file system call of
// a program and of everything it starts (the worker's trainer included), and this reads its record
// back as absolute paths, each marked read or written. The seccomp-bpf filter stops the program only
// at those calls, so that it runs at nearly full speed otherwise.
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

const { ensureSystemPackages } = require('../../infra/system-packages.cjs') as {
  ensureSystemPackages: (packages: string[], opts?: { log?: (m: string) => void }) => Record<string, string>;
};

/** strace and its arguments, to run a program under it (`wrapper` of spawnWorker) and write the record to `log`. */
export function straceWrapper(log: string): string[] {
  const { strace } = ensureSystemPackages(['strace']);
  // -f: children too; -y: the path of every file descriptor (a dirfd, AT_FDCWD, what open returned);
  // -qq: no attach and exit notices.
  return [strace, '-f', '--seccomp-bpf', '-y', '-qq', '-e', 'trace=%file', '-o', log];
}

export interface FileAccess {
  pid: number;
  syscall: string;
  /** Absolute and normalized; symbolic links as named, and the file they led to where a descriptor says. */
  path: string;
  /** The call creates, changes, renames or removes it (or opens it for writing). */
  write: boolean;
}

const WRITES = new Set(
  'creat mkdir mkdirat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink symlinkat chmod fchmodat fchmodat2 chown lchown fchownat utime utimes utimensat futimesat truncate mknod mknodat setxattr lsetxattr removexattr lremovexattr'.split(' '),
);
const OPENS = new Set(['open', 'openat', 'openat2', 'creat']);
const WRITE_FLAGS = /\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND)\b/;
/** A quoted string, or a descriptor with its path (`3</x>`, `AT_FDCWD</x>`). */
const TOKEN = /"((?:[^"\\]|\\.)*)"|\b(\d+|AT_FDCWD)<((?:[^>\\]|\\.)*)>/g;
const CALL = /^(\d+)\s+(\w+)\((.*)$/;

/** strace's C escapes (`\"`, `\\`, `\n`, octal bytes) back to the UTF-8 text they stand for. */
function unescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      bytes.push(...Buffer.from(s[i]));
      continue;
    }
    const next = s[++i];
    const octal = /^[0-7]{1,3}/.exec(s.slice(i));
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += octal[0].length - 1;
    } else if (next === 'x') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(({ n: 10, t: 9, r: 13, v: 11, f: 12 } as Record<string, number>)[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Every path in a record written with straceWrapper. A relative path is resolved against the
 * descriptor before it (a dirfd, or AT_FDCWD with the process's working folder), else against the
 * process's last known working folder, else `cwd`. A call that was interrupted and resumed is
 * read from its first half, which holds its arguments; failed calls count (a look is a touch).
 */
export function readFileTrace(log: string, cwd: string): FileAccess[] {
  const accesses: FileAccess[] = [];
  const cwdOf = new Map<number, string>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const call = CALL.exec(line);
    if (!call) continue;
    const pid = Number(call[1]);
    const syscall = call[2];
    const rest = call[3];
    const write = WRITES.has(syscall) || (OPENS.has(syscall) && WRITE_FLAGS.test(rest));
    let base: string | undefined;
    let strings = 0;
    for (const token of rest.matchAll(TOKEN)) {
      if (token[1] === undefined) {
        const fdPath = unescape(token[3]);
        if (token[2] === 'AT_FDCWD') {
          if (isAbsolute(fdPath)) cwdOf.set(pid, fdPath);
          base = fdPath;
        } else if (isAbsolute(fdPath)) {
          // A folder that the next argument names a file in, or else the file the call acts on (or opened).
          base = fdPath;
          if (!rest.startsWith(', "', token.index + token[0].length)) accesses.push({ pid, syscall, path: resolve(fdPath), write });
        }
        continue;
      }
      strings++;
      // execve's later strings are its arguments; symlink's first is the link's contents, not a path.
      if ((syscall === 'execve' || syscall === 'execveat') && strings > 1) continue;
      if ((syscall === 'symlink' || syscall === 'symlinkat') && strings === 1) continue;
      const name = unescape(token[1]);
      const from = base ?? cwdOf.get(pid) ?? cwd;
      if (syscall === 'chdir') cwdOf.set(pid, resolve(from, name));
      accesses.push({ pid, syscall, path: resolve(from, name), write });
      base = undefined;
    }
  }
  return accesses;
}

/** Whether `path` is `dir` or lies below it. */
export function isUnder(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
