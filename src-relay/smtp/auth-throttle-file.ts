import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, statSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { memoryStore, type ThrottleState, type ThrottleStore } from './auth';

/**
 * The AUTH throttle's state in a small per-user file, for inetd mode: there every connection is its own process,
 * and without a shared record of the last failure each of many parallel guesses would be answered at once.
 * Read, changed and written under a lock file, so processes take their turns one after the other.
 */

/** A holder of the lock that has not let go by then crashed (the critical section is a read and a write). */
const LOCK_STALE_MS = 2000;
const LOCK_WAIT_MS = 5000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** $XDG_RUNTIME_DIR/msmtp-relay (per user, tmpfs, gone at logout), else msmtp-relay-UID in the temp folder. */
export function authStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) return join(runtime, 'msmtp-relay');
  return join(tmpdir(), `msmtp-relay-${process.getuid?.() ?? 'user'}`);
}

/**
 * Opens (creating) DIR/auth-failures, 0600 in a 0700 folder. Throws when the folder is not a real directory of
 * ours that only we can enter: another user could otherwise plant or read the file. Should the file fail later,
 * the spacing goes on within this process, and onProblem hears of it once.
 */
export function openAuthFailureFile(dir: string = authStateDir(), onProblem: (message: string) => void = () => {}): ThrottleStore {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const folder = lstatSync(dir);
  const uid = process.getuid?.();
  if (!folder.isDirectory() || (uid !== undefined && folder.uid !== uid) || (folder.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a private folder of this user (a directory, mode 0700)`);
  }
  const file = join(dir, 'auth-failures');
  const lock = `${file}.lock`;
  let fallback: ThrottleStore | null = null;
  return {
    update(change) {
      if (fallback) return fallback.update(change);
      try {
        return updateFile(file, lock, change);
      } catch (error) {
        onProblem(`${file}: ${(error as Error).message}; failed logins are spaced within this connection only`);
        fallback = memoryStore();
        return fallback.update(change);
      }
    },
  };
}

function updateFile<T>(file: string, lock: string, change: (state: ThrottleState) => { state: ThrottleState; result: T }): T {
  return withLock(lock, () => {
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      if ((fstatSync(fd).mode & 0o077) !== 0) throw new Error(`${file} is readable by others`);
      const { state, result } = change(readState(fd));
      const text = `${state.lastFailureAt} ${state.nextTurnAt}\n`;
      ftruncateSync(fd, 0);
      writeSync(fd, text, 0);
      return result;
    } finally {
      closeSync(fd);
    }
  });
}

function readState(fd: number): ThrottleState {
  const buffer = Buffer.alloc(64);
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  const [last, next] = buffer.subarray(0, length).toString('ascii').trim().split(' ').map(Number);
  return {
    lastFailureAt: Number.isFinite(last) ? last! : Number.NEGATIVE_INFINITY,
    nextTurnAt: Number.isFinite(next) ? next! : 0,
  };
}

function withLock<T>(lock: string, work: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (lockIsStale(lock)) {
      unlinkQuietly(lock);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lock} is held by another process`);
    Atomics.wait(sleeper, 0, 0, 2); // the holder needs microseconds; a short blocking pause is cheaper than a timer
  }
  try {
    return work();
  } finally {
    unlinkQuietly(lock);
  }
}

function lockIsStale(lock: string): boolean {
  try {
    return Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS;
  } catch {
    return false; // gone meanwhile: the next attempt takes it
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already removed (by us after a stale holder, or by the holder itself)
  }
}
