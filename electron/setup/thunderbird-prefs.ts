/**
 * Thunderbird's prefs.js, read and written line by line: only `user_pref("name", value);` lines are understood,
 * every other line (comments, the header, anything unexpected) is kept byte for byte, and a changed pref keeps its
 * place in the file. Thunderbird rewrites the file itself on exit, so this only has to be exact, not pretty.
 */

export type PrefValue = string | number | boolean;

/** The error for a prefs.js this reader does not trust itself to rewrite. */
export class PrefsSyntaxError extends Error {
  override name = 'PrefsSyntaxError';
}

const USER_PREF = /^\s*user_pref\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*(.*?)\s*\)\s*;\s*(?:\/\/.*)?$/;

interface PrefLine {
  kind: 'pref';
  name: string;
  value: PrefValue;
}

type Line = PrefLine | { kind: 'other'; text: string };

function unescape(text: string, line: number): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, escape: string) => {
    switch (escape[0]) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'x':
      case 'u':
        return String.fromCharCode(Number.parseInt(escape.slice(1), 16));
      case '"':
      case "'":
      case '\\':
        return escape;
      default:
        throw new PrefsSyntaxError(`line ${line}: unknown escape \\${escape}`);
    }
  });
}

/** How Thunderbird itself writes a string (Preferences.cpp's StrEscape: backslash, quote, CR and LF). */
function escape(text: string): string {
  return text.replace(/[\\"\n\r]/g, (char) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r' })[char]!);
}

function parseValue(text: string, line: number): PrefValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+$/.test(text)) return Number(text);
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(text);
  if (quoted) return unescape(quoted[1]!, line);
  throw new PrefsSyntaxError(`line ${line}: cannot read the value ${text.slice(0, 40)}`);
}

function formatValue(value: PrefValue): string {
  if (typeof value === 'string') return `"${escape(value)}"`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`a pref value must be an integer, not ${value}`);
    return String(value);
  }
  return value ? 'true' : 'false';
}

export class PrefsFile {
  private constructor(private readonly lines: Line[], private readonly newline: string) {}

  static parse(text: string): PrefsFile {
    const newline = text.includes('\r\n') ? '\r\n' : '\n';
    const raw = text.split(/\r?\n/);
    if (raw.at(-1) === '') raw.pop();
    const lines = raw.map((textLine, index): Line => {
      const match = USER_PREF.exec(textLine);
      if (match) return { kind: 'pref', name: unescape(match[1]!, index + 1), value: parseValue(match[2]!, index + 1) };
      // A user_pref we cannot read would be lost or garbled on rewrite: refuse the whole file instead.
      if (/^\s*user_pref\s*\(/.test(textLine)) throw new PrefsSyntaxError(`line ${index + 1}: cannot read ${textLine.slice(0, 60)}`);
      return { kind: 'other', text: textLine };
    });
    return new PrefsFile(lines, newline);
  }

  /** The last value wins, as when Thunderbird reads the file. */
  get(name: string): PrefValue | undefined {
    let found: PrefValue | undefined;
    for (const line of this.lines) if (line.kind === 'pref' && line.name === name) found = line.value;
    return found;
  }

  getString(name: string): string | undefined {
    const value = this.get(name);
    return typeof value === 'string' ? value : undefined;
  }

  names(): string[] {
    return [...new Set(this.lines.filter((line): line is PrefLine => line.kind === 'pref').map((line) => line.name))];
  }

  /** Changes the pref where it stands (every copy of it), or appends it. */
  set(name: string, value: PrefValue): void {
    formatValue(value);
    let seen = false;
    for (const line of this.lines) {
      if (line.kind === 'pref' && line.name === name) {
        line.value = value;
        seen = true;
      }
    }
    if (!seen) this.lines.push({ kind: 'pref', name, value });
  }

  toString(): string {
    const text = this.lines.map((line) => (line.kind === 'pref'
      ? `user_pref("${escape(line.name)}", ${formatValue(line.value)});`
      : line.text));
    return `${text.join(this.newline)}${this.newline}`;
  }
}

/** The outgoing server and identity settings Thunderbird reads (OutgoingServerService, SmtpServer, nsMsgIdentity). */
export interface RelayServerSettings {
  host: string;
  port: number;
  user: string;
  starttls: boolean;
}

/** How the relay's entry is recognised on the next click, so it is updated and never added twice. */
export const RELAY_DESCRIPTION = 'msmtp Relay';

/** nsMsgAuthMethod.passwordCleartext ("Normal password") and nsMsgSocketType plain / alwaysSTARTTLS. */
const AUTH_NORMAL_PASSWORD = 3;
const SOCKET_PLAIN = 0;
const SOCKET_STARTTLS = 2;

export interface ThunderbirdIdentity {
  key: string;
  email: string;
  name: string;
  /** The key of the outgoing server this identity sends with, if one is set. */
  smtpServer?: string;
}

function list(prefs: PrefsFile, name: string): string[] {
  return (prefs.getString(name) ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

/** The identities of the profile's accounts, in the account manager's order. */
export function identitiesOf(prefs: PrefsFile): ThunderbirdIdentity[] {
  const keys = new Set<string>();
  for (const account of list(prefs, 'mail.accountmanager.accounts')) {
    for (const identity of list(prefs, `mail.account.${account}.identities`)) keys.add(identity);
  }
  return [...keys].map((key) => {
    const smtpServer = prefs.getString(`mail.identity.${key}.smtpServer`);
    return {
      key,
      email: prefs.getString(`mail.identity.${key}.useremail`) ?? '',
      name: prefs.getString(`mail.identity.${key}.fullName`) ?? '',
      ...(smtpServer ? { smtpServer } : {}),
    };
  });
}

/** The key of the relay's outgoing server in this profile, if a previous click added one. */
export function findRelayServer(prefs: PrefsFile): string | undefined {
  return list(prefs, 'mail.smtpservers').find((key) => prefs.getString(`mail.smtpserver.${key}.description`) === RELAY_DESCRIPTION);
}

export interface RelayServerChange {
  key: string;
  /** False when an existing entry was updated. */
  added: boolean;
  /** The identities now sending through the relay. */
  identities: string[];
}

/**
 * Adds the relay as an outgoing server (or updates the one added before) and makes it the outgoing server of
 * `identityKeys`. Identities not named keep whatever server they had.
 */
export function applyRelayServer(prefs: PrefsFile, server: RelayServerSettings, identityKeys: readonly string[]): RelayServerChange {
  const known = identitiesOf(prefs).map((identity) => identity.key);
  const unknown = identityKeys.filter((key) => !known.includes(key));
  if (unknown.length > 0) throw new RangeError(`no such identity in this profile: ${unknown.join(', ')}`);
  const keys = list(prefs, 'mail.smtpservers');
  let key = findRelayServer(prefs);
  const added = key === undefined;
  if (key === undefined) {
    // The way OutgoingServerService picks a key, also stepping over leftovers of deleted servers.
    const taken = new Set([...keys, ...prefs.names().map((name) => /^mail\.smtpserver\.([^.]+)\./.exec(name)?.[1]).filter(Boolean)]);
    let n = 1;
    while (taken.has(`smtp${n}`)) n += 1;
    key = `smtp${n}`;
    prefs.set('mail.smtpservers', [...keys, key].join(','));
  }
  const branch = `mail.smtpserver.${key}`;
  prefs.set(`${branch}.type`, 'smtp');
  prefs.set(`${branch}.description`, RELAY_DESCRIPTION);
  prefs.set(`${branch}.hostname`, server.host);
  prefs.set(`${branch}.port`, server.port);
  prefs.set(`${branch}.username`, server.user);
  prefs.set(`${branch}.authMethod`, AUTH_NORMAL_PASSWORD);
  prefs.set(`${branch}.try_ssl`, server.starttls ? SOCKET_STARTTLS : SOCKET_PLAIN);
  for (const identity of identityKeys) prefs.set(`mail.identity.${identity}.smtpServer`, key);
  const identities = identitiesOf(prefs).filter((identity) => identity.smtpServer === key).map((identity) => identity.key);
  return { key, added, identities };
}
