import { open, readFile, stat, unlink } from 'node:fs/promises';
import { AccountFileError } from './msmtprc-block';

/**
 * One change of msmtp's file at a time. A change reads the file, writes it and may put the old text back when msmtp
 * refuses the new one: two changes that overlap would each write over the other's account. Within one process the
 * changes of a file queue up; between processes (the app and `msmtp-relay --add-account`) a lock file beside msmtp's
 * file, created exclusively and holding its owner's pid, does the same. A lock whose owner is gone is taken over.
 */
export interface LockTiming {
  /** How long a change waits for another process's change before it gives up. */
  readonly waitMs?: number;
  /** How often the lock file is tried again while another process holds it. */
  readonly retryMs?: number;
}

const DEFAULT_WAIT_MS = 20_000;
const DEFAULT_RETRY_MS = 50;
/** A lock file with no pid in it this long after it was made: its owner died between creating and writing it. */
const UNWRITTEN_LOCK_MS = 5_000;

/** The change running or queued last, per msmtp file, in this process. */
const queues = new Map<string, Promise<unknown>>();

export function lockPathFor(file: string): string {
  return `${file}.msmtp-relay.lock`;
}

export async function withConfigLock<T>(file: string, change: () => Promise<T>, timing: LockTiming = {}): Promise<T> {
  const before = queues.get(file) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(async () => {
    const release = await takeLockFile(lockPathFor(file), timing);
    try {
      return await change();
    } finally {
      await release();
    }
  });
  queues.set(file, mine);
  try {
    return await mine;
  } finally {
    if (queues.get(file) === mine) queues.delete(file);
  }
}

async function takeLockFile(path: string, timing: LockTiming): Promise<() => Promise<void>> {
  const waitMs = timing.waitMs ?? DEFAULT_WAIT_MS;
  const retryMs = timing.retryMs ?? DEFAULT_RETRY_MS;
  const giveUpAt = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return () => unlink(path).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AccountFileError(`cannot lock ${path}: ${(error as Error).message}`);
      }
    }
    const owner = await lockOwner(path);
    if (owner === null && (await ageMs(path)) > UNWRITTEN_LOCK_MS) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (owner !== null && !isAlive(owner)) {
      // Its owner died holding it. Read again right before removing, so a lock just taken over by another process
      // (a new pid) is not removed.
      if ((await lockOwner(path)) === owner) await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() >= giveUpAt) {
      throw new AccountFileError(`another program${owner !== null ? ` (pid ${owner})` : ''} is changing msmtp's file (${path} exists); try again`);
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

/** The pid in a lock file; null when it is gone or holds no pid yet (its owner is still writing it). */
async function lockOwner(path: string): Promise<number | null> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}
