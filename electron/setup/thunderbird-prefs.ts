/**
 * Thunderbird's prefs.js, read and written line by line: only `user_pref("name", value);` lines are understood,
 * every other line (comments, the header, anything unexpected) is kept byte for byte, and so is every pref line
 * the app does not change; a changed pref keeps its place in the file. Values are read with the rules of
 * Thunderbird's own pref parser (modules/libpref/parser): single or double quotes, the escapes \\ \" \' \n \r
 * \xNN \uNNNN, any other character (U+2028 included) as itself, comments after the `;`.
 */

export type PrefValue = string | number | boolean;

/** The error for a prefs.js this reader does not trust itself to rewrite. */
export class PrefsSyntaxError extends Error {
  override name = 'PrefsSyntaxError';
}

interface PrefLine {
  kind: 'pref';
  name: string;
  value: PrefValue;
  /** The line as read, written back as long as the value is not changed. */
  text?: string;
  eol: string;
}

type Line = PrefLine | { kind: 'other'; text: string; eol: string };

/** How Thunderbird itself writes a string (Preferences.cpp's StrEscape: backslash, quote, CR and LF). */
function escape(text: string): string {
  return text.replace(/[\\"\n\r]/g, (char) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r' })[char]!);
}

function formatValue(value: PrefValue): string {
  if (typeof value === 'string') {
    // Thunderbird reads a NUL as the end of the file: nothing after it would be read.
    if (value.includes('\0')) throw new RangeError('a pref value may not contain a NUL character');
    return `"${escape(value)}"`;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`a pref value must be an integer, not ${value}`);
    return String(value);
  }
  return value ? 'true' : 'false';
}

/** One `user_pref(...)` line, token by token as Thunderbird's parser reads it. */
class LineReader {
  private at = 0;

  constructor(private readonly text: string, private readonly line: number) {}

  fail(what: string): never {
    throw new PrefsSyntaxError(`line ${this.line}: ${what} in ${JSON.stringify(this.text.slice(0, 60))}`);
  }

  /** Whitespace and comments (// and # to the end of the line, /* ... *\/). */
  skipBlank(): void {
    for (;;) {
      const rest = this.text.slice(this.at);
      const blank = /^(?:[ \t\f\v\r]+|\/\/[\s\S]*|#[\s\S]*|\/\*[\s\S]*?\*\/)/.exec(rest);
      if (!blank || blank[0] === '') return;
      this.at += blank[0].length;
    }
  }

  expect(token: string): void {
    this.skipBlank();
    if (!this.text.startsWith(token, this.at)) this.fail(`expected ${token}`);
    this.at += token.length;
  }

  atEnd(): boolean {
    this.skipBlank();
    return this.at === this.text.length;
  }

  string(): string {
    this.skipBlank();
    const quote = this.text[this.at];
    if (quote !== '"' && quote !== "'") this.fail('expected a string');
    this.at += 1;
    let value = '';
    for (;;) {
      const char = this.text[this.at];
      if (char === undefined) this.fail('unterminated string');
      this.at += 1;
      if (char === quote) return value;
      if (char !== '\\') {
        value += char;
        continue;
      }
      const code = this.text[this.at];
      this.at += 1;
      switch (code) {
        case '"': case "'": case '\\': value += code; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 'x': value += this.hex(2); break;
        case 'u': value += this.hex(4); break;
        default: this.fail(`unknown escape \\${code ?? ''}`);
      }
    }
  }

  private hex(digits: number): string {
    const text = this.text.slice(this.at, this.at + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(text)) this.fail('bad escape');
    this.at += digits;
    return String.fromCharCode(Number.parseInt(text, 16));
  }

  value(): PrefValue {
    this.skipBlank();
    const quote = this.text[this.at];
    if (quote === '"' || quote === "'") return this.string();
    const word = /^(?:true|false|[-+]?\d+)/.exec(this.text.slice(this.at))?.[0];
    if (word === undefined) this.fail('cannot read the value');
    this.at += word.length;
    if (word === 'true') return true;
    if (word === 'false') return false;
    const number = Number(word);
    if (!Number.isSafeInteger(number)) this.fail('the integer is out of range');
    return number;
  }
}

function parsePrefLine(text: string, line: number): { name: string; value: PrefValue } {
  const reader = new LineReader(text, line);
  reader.expect('user_pref');
  reader.expect('(');
  const name = reader.string();
  reader.expect(',');
  const value = reader.value();
  reader.expect(')');
  reader.expect(';');
  // A second pref on the same line would be dropped by a rewrite: refuse the file instead.
  if (!reader.atEnd()) reader.fail('unexpected text after the pref');
  return { name, value };
}

export class PrefsFile {
  private constructor(private readonly lines: Line[], private readonly newline: string) {}

  static parse(text: string): PrefsFile {
    const newline = text.includes('\r\n') ? '\r\n' : '\n';
    const parts = text.split(/(\r?\n)/);
    const lines: Line[] = [];
    for (let index = 0; index < parts.length; index += 2) {
      const textLine = parts[index]!;
      const eol = parts[index + 1] ?? '';
      if (textLine === '' && eol === '') continue; // after the last line break
      // A user_pref we cannot read would be lost or garbled on rewrite: parsePrefLine refuses the whole file instead.
      if (/^\s*user_pref\s*\(/.test(textLine)) lines.push({ kind: 'pref', ...parsePrefLine(textLine, index / 2 + 1), text: textLine, eol });
      else lines.push({ kind: 'other', text: textLine, eol });
    }
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

  /** Changes the pref where it stands (every copy of it), or appends it; an unchanged value keeps its line as read. */
  set(name: string, value: PrefValue): void {
    formatValue(value);
    let seen = false;
    for (const line of this.lines) {
      if (line.kind === 'pref' && line.name === name) {
        if (line.value !== value) {
          line.value = value;
          delete line.text;
        }
        seen = true;
      }
    }
    if (seen) return;
    const last = this.lines.at(-1);
    if (last && last.eol === '') last.eol = this.newline;
    this.lines.push({ kind: 'pref', name, value, eol: this.newline });
  }

  toString(): string {
    return this.lines.map((line) => `${line.kind === 'pref' && line.text === undefined
      ? `user_pref("${escape(line.name)}", ${formatValue(line.value)});`
      : line.text}${line.eol}`).join('');
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
