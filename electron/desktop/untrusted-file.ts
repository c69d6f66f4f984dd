/**
 * A file in a folder another program controls (a Flatpak or Snap Thunderbird's profile, msmtp's configuration):
 * it may be a symlink to one of the user's secrets, a FIFO that never ends, a huge file, or a name planted where
 * the app is about to write. Every read and every new file there goes through this module:
 * - a read opens without following a symlink (unless the caller allows one, as msmtp itself does), without blocking
 *   (a FIFO opens at once and is then refused), takes only a regular file up to a size cap, and ends in bounded time;
 * - a new file is created exclusively: it fails if the name exists, whatever it is (a symlink included).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Why a file was refused (not merely missing). */
export class UntrustedFileError extends Error {
  override name = 'UntrustedFileError';
}

export interface UntrustedReadOptions {
  /** Refuse a larger file. */
  maxBytes?: number;
  /** The whole read (open, check, read) must end within this time. */
  timeoutMs?: number;
  /** Follow a symlink to a regular file (msmtp follows ~/.msmtprc when it is a link into a dotfiles folder). */
  followSymlinks?: boolean;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 5000;
// Windows has neither flag; there a symlink needs privileges to make and a FIFO is not a file.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;

/** The file's bytes; null when it does not exist. Throws UntrustedFileError for anything but a sane regular file. */
export async function readUntrustedFile(file: string, options: UntrustedReadOptions = {}): Promise<Buffer | null> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const work = readChecked(file, options.maxBytes ?? DEFAULT_MAX_BYTES, options.followSymlinks ?? false);
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UntrustedFileError(`${file} could not be read within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined); // a read that lost the race closes its file itself
  }
}

/** readUntrustedFile as UTF-8 text. */
export async function readUntrustedText(file: string, options?: UntrustedReadOptions): Promise<string | null> {
  return (await readUntrustedFile(file, options))?.toString('utf8') ?? null;
}

async function readChecked(file: string, maxBytes: number, followSymlinks: boolean): Promise<Buffer | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | NONBLOCK | (followSymlinks ? 0 : NOFOLLOW));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP' || code === 'EMLINK') throw new UntrustedFileError(`${file} is a symbolic link; only a regular file is read`);
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new UntrustedFileError(`${file} is not a regular file`);
    if (info.size > maxBytes) throw new UntrustedFileError(`${file} is larger than ${maxBytes} bytes`);
    // Read to the end, not to the size fstat gave: a file that grows past the cap while it is read is refused too.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw new UntrustedFileError(`${file} is larger than ${maxBytes} bytes`);
    }
    return Buffer.concat(chunks, length);
  } finally {
    await handle.close();
  }
}

/** Creates `file` with `data`, private (0600); fails with EEXIST when the name exists in any form, a symlink included. */
export async function createExclusive(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}
