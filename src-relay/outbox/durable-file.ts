import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Makes a rename or unlink in `dir` survive a power cut. Windows cannot open a folder for fsync: there the rename is
 * as durable as NTFS makes it, which is the best a program can do.
 */
export async function syncFolder(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A private folder (0700), created if missing. */
export async function privateFolder(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A unique name for a temporary file beside `file`: the process id lets a later run tell whose leftover it is. */
export function temporaryName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/**
 * Writes through a private temporary file beside `file`: fill it, flush it to disk, rename it over `file`, flush the
 * folder. Readers see the old content or the new, never a part; a failure (disk full) leaves nothing behind.
 * `fill` writes the content; with `durable` false the folder is not flushed (a replaceable file such as settings).
 */
export async function writeFileDurably(
  file: string,
  fill: (handle: FileHandle) => Promise<void>,
  { durable = true }: { durable?: boolean } = {},
): Promise<void> {
  const dir = dirname(file);
  await privateFolder(dir);
  const temporary = temporaryName(file);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await fill(handle);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  if (durable) await syncFolder(dir);
}

/** writeFileDurably for a text. */
export function writeTextDurably(file: string, text: string, options?: { durable?: boolean }): Promise<void> {
  return writeFileDurably(file, async (handle) => {
    await handle.writeFile(text, 'utf8');
  }, options);
}
