import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_COMMAND, isListenHost, parseCommand, writeTextDurably } from '../../src-relay/index';
import type { AppSettings, SettingsField } from '../contract/api';

export const SETTINGS_FILE = 'settings.json';

export const defaultSettings: Readonly<AppSettings> = Object.freeze({
  command: DEFAULT_COMMAND,
  // Both loopbacks: clients are told "localhost", and some resolve it to ::1 first.
  host: 'localhost',
  port: 2500,
  user: 'msmtpd-user',
  launchAtLogin: false,
  tls: false,
  notifications: true,
  keepUnsent: true,
});

export type Validation =
  | { ok: true; settings: AppSettings }
  | { ok: false; errors: Partial<Record<SettingsField, string>> };

/**
 * Checks a value that came from disk or from the renderer, field by field, and returns a clean copy (unknown keys
 * dropped). The messages are shown next to the form fields, so they speak to the user.
 */
export function validateSettings(input: unknown): Validation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: { command: 'settings must be an object' } };
  }
  const value = input as Record<string, unknown>;
  const errors: Partial<Record<SettingsField, string>> = {};

  const command = value.command;
  if (typeof command !== 'string' || command.trim() === '') {
    errors.command = 'Enter the command that sends a mail, e.g. msmtp -f %F --';
  } else if (command.length > 4096) {
    errors.command = 'The command is too long';
  } else {
    try {
      parseCommand(command);
    } catch (error) {
      errors.command = (error as Error).message;
    }
  }

  const host = value.host;
  if (typeof host !== 'string' || !isListenHost(host)) {
    errors.host = 'Enter localhost (127.0.0.1 and ::1) or a numeric IP address, e.g. 127.0.0.1 or ::1';
  }

  const port = value.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    errors.port = 'Enter a port number from 1 to 65535';
  }

  const user = value.user;
  if (typeof user !== 'string' || user === '' || user.length > 128 || /[\0-\x20\x7f]/.test(user)) {
    errors.user = 'Enter a user name without spaces (at most 128 characters)';
  }

  if (typeof value.launchAtLogin !== 'boolean') {
    errors.launchAtLogin = 'launchAtLogin must be true or false';
  }

  for (const flag of ['tls', 'notifications'] as const) {
    if (typeof value[flag] !== 'boolean') errors[flag] = `${flag} must be true or false`;
  }
  if (typeof value.keepUnsent !== 'boolean') {
    errors.keepUnsent = 'keepUnsent must be true or false';
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    settings: {
      command: command as string,
      host: host as string,
      port: port as number,
      user: user as string,
      launchAtLogin: value.launchAtLogin as boolean,
      tls: value.tls as boolean,
      notifications: value.notifications as boolean,
      keepUnsent: value.keepUnsent as boolean,
    },
  };
}

export interface LoadedSettings {
  settings: AppSettings;
  /** Set when the file existed but could not be used; it was moved aside and replaced by defaults. */
  problem?: string;
}

export interface SettingsStore {
  readonly file: string;
  load(): Promise<LoadedSettings>;
  save(next: unknown): Promise<Validation>;
}

/** Settings as JSON in `dir`: private to the user (0600 in a 0700 folder) and replaced atomically on save. */
export function createSettingsStore(dir: string): SettingsStore {
  const file = join(dir, SETTINGS_FILE);

  async function load(): Promise<LoadedSettings> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: { ...defaultSettings } };
      throw error;
    }
    let reason: string;
    try {
      const parsed: unknown = JSON.parse(text);
      // Keys added in later versions may be missing from an older file: the defaults fill them in.
      const merged = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? { ...defaultSettings, ...parsed }
        : parsed;
      const result = validateSettings(merged);
      if (result.ok) return { settings: result.settings };
      reason = Object.entries(result.errors).map(([key, message]) => `${key}: ${message}`).join('; ');
    } catch (error) {
      reason = `not valid JSON (${(error as Error).message})`;
    }
    // Keep the broken file for the user to look at, and start over from defaults rather than refuse to run.
    const aside = `${file}.broken`;
    await rename(file, aside);
    await writeAtomically(file, `${JSON.stringify(defaultSettings, null, 2)}\n`);
    return {
      settings: { ...defaultSettings },
      problem: `The settings file ${file} could not be used (${reason}). It was moved to ${aside} and the defaults were restored.`,
    };
  }

  async function save(next: unknown): Promise<Validation> {
    const result = validateSettings(next);
    if (result.ok) await writeAtomically(file, `${JSON.stringify(result.settings, null, 2)}\n`);
    return result;
  }

  return { file, load, save };
}

/**
 * A private file (0600 in a 0700 folder) replaced atomically: a temporary file beside it, flushed, renamed over it.
 * The engine's durable writer, without flushing the folder: settings and autostart entries can be written again.
 */
export function writeAtomically(file: string, text: string): Promise<void> {
  return writeTextDurably(file, text, { durable: false });
}

/** The one copy of the settings in a running app: the relay, the outbox, the health checks and the commands ask it. */
export class CurrentSettings {
  private value: AppSettings;
  private readonly listeners = new Set<(settings: AppSettings) => void>();

  constructor(initial: AppSettings) {
    this.value = { ...initial };
  }

  current(): AppSettings {
    return { ...this.value };
  }

  /** Saved settings (already validated and written by the store) become the current ones. */
  replace(next: AppSettings): void {
    this.value = { ...next };
    for (const listener of this.listeners) listener(this.current());
  }

  onChange(listener: (settings: AppSettings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
