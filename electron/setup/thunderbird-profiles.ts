import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeTextDurably } from '../../src-relay/index';
import type { ThunderbirdProfileView, ThunderbirdRequest } from '../contract/api';
import { createExclusive, readUntrustedFile } from '../desktop/untrusted-file';
import { PrefsFile, applyRelayServer, findRelayServer, identitiesOf, type RelayServerChange, type RelayServerSettings } from './thunderbird-prefs';

/** Where this machine's Thunderbird might keep its profiles; the caller passes its platform facts (tests do too). */
export interface ThunderbirdPlaces {
  platform: NodeJS.Platform;
  home: string;
  /** %APPDATA% on Windows. */
  appData?: string;
}

/** The folders that may hold profiles.ini, in the order they are searched (native install first). */
export function thunderbirdRoots(places: ThunderbirdPlaces): string[] {
  switch (places.platform) {
    case 'win32':
      return [join(places.appData ?? join(places.home, 'AppData', 'Roaming'), 'Thunderbird')];
    case 'darwin':
      return [join(places.home, 'Library', 'Thunderbird')];
    default:
      return [
        join(places.home, '.thunderbird'),
        join(places.home, '.var', 'app', 'org.mozilla.Thunderbird', '.thunderbird'),
        join(places.home, 'snap', 'thunderbird', 'common', '.thunderbird'),
      ];
  }
}

export interface ThunderbirdProfile {
  /** The profile's name in profiles.ini ("default-release"). */
  name: string;
  /** Absolute path of the profile folder (the one holding prefs.js). */
  dir: string;
  /** The profile an install starts with (installs.ini), or profiles.ini's Default=1. */
  isDefault: boolean;
  /** The profiles.ini folder it was listed in. */
  root: string;
}

type Ini = Map<string, Map<string, string>>;

/** profiles.ini and installs.ini are plain INI files written by Thunderbird (toolkit's nsINIParser rules). */
export function parseIni(text: string): Ini {
  const sections: Ini = new Map();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]!) ?? new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const equals = line.indexOf('=');
    if (current && equals > 0) current.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim());
  }
  return sections;
}

/**
 * A Flatpak or Snap Thunderbird writes its own profile folders, so every file in them is read as untrusted: no
 * symlink followed, a regular file of at most this size, read within this time (a FIFO is refused, not waited on).
 */
const MAX_PROFILE_FILE_BYTES = 16 * 1024 * 1024;
const PROFILE_READ_TIMEOUT_MS = 5000;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A profile file's bytes and text; null when there is none. Text that is not UTF-8 is refused (it could not be kept byte for byte). */
async function readProfileFile(file: string): Promise<{ bytes: Buffer; text: string } | null> {
  const bytes = await readUntrustedFile(file, { maxBytes: MAX_PROFILE_FILE_BYTES, timeoutMs: PROFILE_READ_TIMEOUT_MS });
  if (bytes === null) return null;
  try {
    return { bytes, text: utf8.decode(bytes) };
  } catch {
    throw new Error(`${file} is not UTF-8 text`);
  }
}

async function readIfThere(file: string): Promise<string | null> {
  return (await readProfileFile(file))?.text ?? null;
}

/** Flatpak's and Snap's folders: written by a sandboxed Thunderbird, which must not reach outside them through us. */
function isSandboxRoot(root: string): boolean {
  return /[\\/]\.var[\\/]app[\\/]|[\\/]snap[\\/]/.test(root);
}

/**
 * A sandbox's profile folder must be inside its root with no symlink on the way (the root itself included), or a
 * sandboxed Thunderbird could point the app at any folder of the user's (another profile, ~/.config/autostart).
 */
async function insideSandbox(root: string, dir: string): Promise<boolean> {
  try {
    if ((await lstat(root)).isSymbolicLink()) return false;
    const lexical = relative(root, dir);
    if (lexical === '' || lexical.startsWith('..') || isAbsolute(lexical)) return false;
    const [realRoot, realDir] = await Promise.all([realpath(root), realpath(dir)]);
    return realDir === join(realRoot, lexical) && realDir.startsWith(`${realRoot}${sep}`);
  } catch {
    return false;
  }
}

/** Every profile listed under the given roots; a root without profiles.ini is skipped, a listed missing folder too. */
export async function findProfiles(roots: readonly string[]): Promise<ThunderbirdProfile[]> {
  const found: ThunderbirdProfile[] = [];
  for (const root of roots) {
    const sandboxed = isSandboxRoot(root);
    if (sandboxed && (await lstat(root).then((info) => info.isSymbolicLink(), () => false))) continue;
    const text = await readIfThere(join(root, 'profiles.ini')).catch(() => null);
    if (text === null) continue;
    const listed = parseIni(text);
    const installs = parseIni((await readIfThere(join(root, 'installs.ini')).catch(() => null)) ?? '');
    // Since Thunderbird 68 each install has its own default profile, in installs.ini and in [Install...] sections.
    const installDefaults = new Set<string>();
    for (const [name, section] of [...installs, ...listed]) {
      const path = section.get('Default');
      if (!/^Profile\d+$/.test(name) && name !== 'General' && path) installDefaults.add(path);
    }
    for (const [name, section] of listed) {
      if (!/^Profile\d+$/.test(name)) continue;
      const path = section.get('Path');
      if (!path) continue;
      const relative = section.get('IsRelative') !== '0' && !isAbsolute(path);
      const dir = relative ? resolve(root, path) : path;
      if (!(await isDirectory(dir))) continue;
      if (sandboxed && !(await insideSandbox(root, dir))) continue;
      const isDefault = installDefaults.size > 0 ? installDefaults.has(path) : section.get('Default') === '1';
      if (found.some((profile) => profile.dir === dir)) continue;
      found.push({ name: section.get('Name') ?? path, dir, isDefault, root });
    }
  }
  return found;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether Thunderbird has the profile open, by the lock it holds (toolkit's nsProfileLock): on Linux and macOS a
 * `lock` symlink to "address:+pid" next to the fcntl-locked `.parentlock`; on Windows `parent.lock`, which exists
 * which Thunderbird holds open without sharing while it runs. A symlink left by a crash names a dead process.
 */
export async function thunderbirdRunning(profileDir: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  if (platform === 'win32') return windowsLockHeld(join(profileDir, 'parent.lock'));
  let target: string;
  try {
    target = await readlink(join(profileDir, 'lock'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return true; // a `lock` that is not a symlink: be careful and call it held
  }
  const pid = /:\+(\d+)$/.exec(target)?.[1];
  if (!pid) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Thunderbird opens parent.lock without sharing: while it runs, nobody else can open the file at all. */
async function windowsLockHeld(file: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  await handle.close();
  return false; // left behind: whoever had it is gone
}

export async function readProfilePrefs(profileDir: string): Promise<PrefsFile> {
  return PrefsFile.parse((await readIfThere(join(profileDir, 'prefs.js'))) ?? '');
}

export type AddResult =
  | ({ ok: true; backup: string | null } & RelayServerChange)
  | { ok: false; reason: 'running' | 'not-a-profile' | 'unreadable'; error: string };

/**
 * "Add to Thunderbird": refuses while Thunderbird has the profile open (it would overwrite prefs.js on exit), keeps
 * a copy of prefs.js, then writes the relay's outgoing server into it atomically.
 */
export async function addRelayToProfile(
  profileDir: string,
  server: RelayServerSettings,
  identityKeys: readonly string[],
  options: { platform?: NodeJS.Platform; now?: () => Date } = {},
): Promise<AddResult> {
  if (!(await isDirectory(profileDir))) return { ok: false, reason: 'not-a-profile', error: `${profileDir} is not a Thunderbird profile folder` };
  if (await thunderbirdRunning(profileDir, options.platform)) {
    return { ok: false, reason: 'running', error: 'Thunderbird is running with this profile. Quit Thunderbird, then click Add to Thunderbird again.' };
  }
  const file = join(profileDir, 'prefs.js');
  let before: { bytes: Buffer; text: string } | null;
  let prefs: PrefsFile;
  try {
    before = await readProfileFile(file);
    prefs = PrefsFile.parse(before?.text ?? '');
  } catch (error) {
    return { ok: false, reason: 'unreadable', error: `prefs.js in ${profileDir} could not be read safely, nothing was changed: ${(error as Error).message}` };
  }
  const change = applyRelayServer(prefs, server, identityKeys);
  let backup: string | null = null;
  if (before !== null) {
    const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
    backup = join(profileDir, `prefs.js.msmtp-relay-${stamp}.bak`);
    // The bytes just read, into a new file: a name planted in the folder (a symlink to ~/.bashrc) makes this fail.
    await createExclusive(backup, before.bytes);
  }
  await writeTextDurably(file, prefs.toString(), { durable: false });
  return { ok: true, backup, ...change };
}

/** What the setup pane lists: every profile found, whether it is open, and which identities send through the relay. */
export async function describeProfiles(places: ThunderbirdPlaces): Promise<ThunderbirdProfileView[]> {
  const profiles = await findProfiles(thunderbirdRoots(places));
  return Promise.all(profiles.map(async (profile): Promise<ThunderbirdProfileView> => {
    const place = /[\\/]\.var[\\/]app[\\/]/.test(profile.root) ? 'Flatpak' : /[\\/]snap[\\/]/.test(profile.root) ? 'Snap' : undefined;
    const base = {
      name: profile.name, dir: profile.dir, isDefault: profile.isDefault, ...(place ? { place } : {}), running: await thunderbirdRunning(profile.dir),
    };
    try {
      const prefs = await readProfilePrefs(profile.dir);
      const relayKey = findRelayServer(prefs);
      const identities = identitiesOf(prefs).map(({ key, email, name, smtpServer }) => ({
        key, email, name, usesRelay: relayKey !== undefined && smtpServer === relayKey,
      }));
      return { ...base, identities };
    } catch (error) {
      return { ...base, identities: [], problem: `prefs.js could not be read: ${(error as Error).message}` };
    }
  }));
}

/**
 * The "Add to Thunderbird" click: only into a profile that profiles.ini lists (the window never names an arbitrary
 * folder to write into), worded for the user, with a line for the log.
 */
export async function addRelayToListedProfile(
  places: ThunderbirdPlaces,
  request: ThunderbirdRequest,
  server: RelayServerSettings,
): Promise<{ ok: true; message: string; logLine: string } | { ok: false; error: string }> {
  const profile = (await findProfiles(thunderbirdRoots(places))).find((candidate) => candidate.dir === request.profileDir);
  if (!profile) return { ok: false, error: 'That Thunderbird profile is not listed in profiles.ini any more. Look again.' };
  let result: AddResult;
  try {
    result = await addRelayToProfile(profile.dir, server, request.identities);
  } catch (error) {
    return { ok: false, error: `Could not change the Thunderbird profile: ${(error as Error).message}` };
  }
  if (!result.ok) return { ok: false, error: result.error };
  const count = result.identities.length;
  const who = count > 0 ? ` ${count} ${count === 1 ? 'identity sends' : 'identities send'} through it.` : '';
  return {
    ok: true,
    message: `${result.added ? 'Added' : 'Updated'} “msmtp Relay” in Thunderbird (${profile.name}).${who} On the first send, paste the relay's password.`,
    logLine: `Thunderbird profile ${profile.name}: outgoing server ${result.key} ${result.added ? 'added' : 'updated'} for ${server.host}:${server.port}`,
  };
}
