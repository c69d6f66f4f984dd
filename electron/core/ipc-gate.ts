import type { AppSettings, CopyItem, GuideId, HealthFix, Invokable, MainApi, ThunderbirdRequest } from '../contract/api';
import { accountAddress, accountPage, accountRequest, accountPassword } from './ipc-accounts';

import { IpcRejected } from './ipc-rejected';

export { IpcRejected };

const MAX_TEXT = 4096;
/** A kept mail's id, as the outbox makes them. */
const OUTBOX_ID = /^[0-9A-F]{12}$/;
/** Every member of a union of strings, as a list the compiler checks: a member missing or extra fails the build. */
function everyOf<T extends string>(members: Record<T, true>): readonly T[] {
  return Object.keys(members) as T[];
}

const COPY_ITEMS = everyOf<CopyItem>({ host: true, port: true, user: true, password: true, all: true });
const GUIDE_IDS = everyOf<GuideId>({
  'thunderbird': true, 'apple-mail': true, 'outlook-classic': true, 'outlook-new': true, 'evolution': true, 'kmail': true,
  'mutt': true, 'git-send-email': true, 'python': true, 'node': true,
});
const SETTINGS_SHAPE: Record<keyof AppSettings, 'string' | 'number' | 'boolean'> = {
  command: 'string',
  host: 'string',
  port: 'number',
  user: 'string',
  launchAtLogin: 'boolean',
  tls: 'boolean',
  notifications: 'boolean',
  keepUnsent: 'boolean',
};

function outboxId(value: unknown): string {
  if (typeof value !== 'string' || !OUTBOX_ID.test(value)) throw new IpcRejected('a mail id is 12 hex digits (0-9, A-F)');
  return value;
}

type ArgsOf<K extends Invokable> = Parameters<MainApi[K]>;
type Validators = { [K in Invokable]: (args: readonly unknown[]) => ArgsOf<K> };

const none = (args: readonly unknown[]): [] => {
  if (args.length !== 0) throw new IpcRejected(`expected no arguments, got ${args.length}`);
  return [];
};

function one(args: readonly unknown[]): unknown {
  if (args.length !== 1) throw new IpcRejected(`expected 1 argument, got ${args.length}`);
  return args[0];
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new IpcRejected(`${what} must be a string`);
  if (value.length > MAX_TEXT) throw new IpcRejected(`${what} is too long`);
  return value;
}

/**
 * Shape only: the exact keys with the right types. Whether the values make sense (a port in range, a command that
 * parses) is the settings store's call, so the user gets a message next to the field instead of an IPC error.
 */
function settingsShape(value: unknown): AppSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new IpcRejected('settings must be a plain object');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const expected = Object.keys(SETTINGS_SHAPE);
  const unknown = keys.filter((key) => !expected.includes(key));
  if (unknown.length > 0) throw new IpcRejected(`unknown settings: ${unknown.slice(0, 5).join(', ')}`);
  for (const [key, type] of Object.entries(SETTINGS_SHAPE)) {
    if (typeof record[key] !== type) throw new IpcRejected(`settings.${key} must be a ${type}`);
    if (type === 'string') text(record[key], `settings.${key}`);
  }
  return {
    command: record.command as string,
    host: record.host as string,
    port: record.port as number,
    user: record.user as string,
    launchAtLogin: record.launchAtLogin as boolean,
    tls: record.tls as boolean,
    notifications: record.notifications as boolean,
    keepUnsent: record.keepUnsent as boolean,
  };
}

/** A profile folder (checked against profiles.ini by the controller) and at most a few hundred identity keys. */
function thunderbirdRequest(value: unknown): ThunderbirdRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new IpcRejected('the Thunderbird request must be a plain object');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  if (keys.join(',') !== 'identities,profileDir') throw new IpcRejected('the Thunderbird request takes profileDir and identities');
  const identities = record.identities;
  if (!Array.isArray(identities) || identities.length > 256) throw new IpcRejected('identities must be a list');
  return {
    profileDir: text(record.profileDir, 'profileDir'),
    // Array.from visits holes too (as undefined): a sparse list is refused, not passed on with its holes.
    identities: Array.from(identities as unknown[], (key, index) => {
      const checked = text(key, `identities[${index}]`);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(checked)) throw new IpcRejected(`identities[${index}] is not an identity key`);
      return checked;
    }),
  };
}

export const validators: Validators = {
  getSettings: none,
  saveSettings: (args) => [settingsShape(one(args))],
  setPassword: (args) => [text(one(args), 'password')],
  regeneratePassword: none,
  copy: (args) => {
    const item = one(args);
    if (!COPY_ITEMS.includes(item as CopyItem)) throw new IpcRejected('unknown copy item');
    return [item as CopyItem];
  },
  getStatus: none,
  setRunning: (args) => {
    const on = one(args);
    if (typeof on !== 'boolean') throw new IpcRejected('setRunning takes true or false');
    return [on];
  },
  recentLog: none,
  clearLog: none,
  openLogFile: none,
  checkCommand: (args) => [text(one(args), 'command')],
  chooseCommandFile: none,
  clientSetup: none,
  testMailDefaults: none,
  sendTestMail: (args) => {
    const to = text(one(args), 'to').trim();
    if (to.length > 254 || !/^[^\s<>@,;]+@[^\s<>@,;]+$/.test(to)) throw new IpcRejected('sendTestMail takes one mail address');
    return [to];
  },
  applyFix: (args) => [healthFix(one(args))],
  exportCertificate: none,
  listOutbox: none,
  retryOutbox: (args) => {
    const id = one(args);
    return [id === null ? null : outboxId(id)];
  },
  deleteFromOutbox: (args) => [outboxId(one(args))],
  setSendingPaused: (args) => {
    const paused = one(args);
    if (typeof paused !== 'boolean') throw new IpcRejected('setSendingPaused takes true or false');
    return [paused];
  },
  clientGuides: none,
  copySnippet: (args) => {
    if (args.length !== 2) throw new IpcRejected(`expected 2 arguments, got ${args.length}`);
    const [guide, index] = args;
    if (!GUIDE_IDS.includes(guide as GuideId)) throw new IpcRejected('unknown guide');
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 50) throw new IpcRejected('snippet index out of range');
    return [guide as GuideId, index];
  },
  thunderbirdProfiles: none,
  addToThunderbird: (args) => [thunderbirdRequest(one(args))],
  listAccounts: none,
  lookupAccount: (args) => [accountAddress(one(args))],
  saveAccount: (args) => {
    if (args.length !== 2) throw new IpcRejected(`expected 2 arguments, got ${args.length}`);
    return [accountRequest(args[0]), accountPassword(args[1])];
  },
  removeAccount: (args) => [accountAddress(one(args))],
  openAccountPage: (args) => {
    if (args.length !== 2) throw new IpcRejected(`expected 2 arguments, got ${args.length}`);
    return [accountAddress(args[0]), accountPage(args[1])];
  },
  chooseTrustFile: none,
};

/** Exactly one of the fixes in api.ts's HealthFix, with nothing else in it. */
function healthFix(value: unknown): HealthFix {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new IpcRejected('a fix must be an object');
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort().join(',');
  if (record.action === 'use-port' && keys === 'action,port') {
    const port = record.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new IpcRejected('use-port needs a port from 1 to 65535');
    return { action: 'use-port', port };
  }
  if ((record.action === 'retry' || record.action === 'fix-permissions') && keys === 'action') return { action: record.action };
  throw new IpcRejected('unknown fix');
}

export const INVOKE_CHANNELS = Object.keys(validators) as Invokable[];

function isInvokable(channel: string): channel is Invokable {
  return Object.prototype.hasOwnProperty.call(validators, channel);
}

/** Who sent an IPC message: the frame's URL and whether it is the window's top frame (not an iframe). */
export interface IpcSender {
  url: string | undefined;
  isMainFrame: boolean;
}

/**
 * Only the app's own page in the window's top frame may call the main process: the command setting runs programs.
 * Scheme, host, port and path must match the page the window loaded; query and fragment are ignored.
 */
export function isTrustedSender(sender: IpcSender, trustedPage: string): boolean {
  if (!sender.isMainFrame || !sender.url) return false;
  let actual: URL;
  let expected: URL;
  try {
    actual = new URL(sender.url);
    expected = new URL(trustedPage);
  } catch {
    return false;
  }
  return actual.protocol === expected.protocol && actual.host === expected.host && actual.pathname === expected.pathname
    && actual.username === '' && actual.password === '';
}

/** One gate for every invokable method: sender, then channel, then input, then the call. */
export function createIpcGate(api: MainApi, trustedPage: string) {
  return async function invoke(sender: IpcSender, channel: string, args: readonly unknown[]): Promise<unknown> {
    if (!isTrustedSender(sender, trustedPage)) throw new IpcRejected(`IPC from an untrusted sender refused (${String(sender.url)})`);
    if (!isInvokable(channel)) throw new IpcRejected(`unknown IPC method '${channel}'`);
    const valid = validators[channel](args) as unknown[];
    const method = api[channel] as (...values: unknown[]) => Promise<unknown>;
    return method.apply(api, valid);
  };
}
