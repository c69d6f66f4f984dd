import { randomBytes } from 'node:crypto';
import { lstat, open, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeTextDurably } from '../outbox/durable-file';
import { AccountFileError } from './msmtprc-block';

export interface ConfigPlace {
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/**
 * The one user configuration file msmtp reads (tools.c, get_userconfig): ~/.msmtprc when it exists (whatever it is),
 * else $XDG_CONFIG_HOME/msmtp/config (~/.config by default) when that exists, else ~/.msmtprc, which is where a
 * first account is created. msmtp takes HOME from the environment, as here.
 */
export async function msmtpUserConfigFile(place: ConfigPlace = {}): Promise<string> {
  const env = place.env ?? process.env;
  const home = place.home ?? env.HOME ?? homedir();
  const rc = join(home, '.msmtprc');
  if (await exists(rc)) return rc;
  const xdgHome = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(home, '.config');
  const xdg = join(xdgHome, 'msmtp', 'config');
  return (await exists(xdg)) ? xdg : rc;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path); // msmtp uses stat: a dangling symlink counts as missing
    return true;
  } catch {
    return false;
  }
}

export interface ConfigText {
  /** The path msmtp opens. */
  readonly file: string;
  /** The file written in place of `file` (its symlink's target), the same path when it is not a symlink. */
  readonly target: string;
  /** null when the file does not exist yet. */
  readonly text: string | null;
}

export async function readConfigText(file: string): Promise<ConfigText> {
  let target = file;
  try {
    if ((await lstat(file)).isSymbolicLink()) target = await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { file, target, text: null };
    throw error;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { file, target, text: null };
    throw new AccountFileError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const text = bytes.toString('utf8');
  // A byte that is not UTF-8 would come back changed after a round trip through a JS string.
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new AccountFileError(`${file} is not UTF-8 text; msmtp Relay does not change it (add the account by hand)`);
  }
  return { file, target, text };
}

/**
 * Replaces the file's content, durably and atomically, through a symlink to its target (the link stays a link),
 * mode 0600 (msmtp refuses a file with secrets that others can read). Before that, the previous content is kept in
 * a new backup file beside it (created exclusively, 0600). Returns the backup's path, or null for a new file.
 */
export async function writeConfigText(current: ConfigText, text: string): Promise<string | null> {
  let backup: string | null = null;
  if (current.text !== null) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    backup = `${current.target}.msmtp-relay-${stamp}-${randomBytes(3).toString('hex')}.bak`;
    const handle = await open(backup, 'wx', 0o600);
    try {
      await handle.writeFile(current.text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  try {
    await writeTextDurably(current.target, text);
  } catch (error) {
    throw new AccountFileError(`cannot write ${current.file}: ${(error as Error).message}`);
  }
  return backup;
}

/** Puts the earlier content back (or removes a file the app created), used when msmtp refused the new one. */
export async function restoreConfigText(current: ConfigText): Promise<void> {
  if (current.text === null) {
    await unlink(current.target).catch(() => undefined);
    return;
  }
  await writeTextDurably(current.target, current.text);
}
