import type { AccountSettings } from './account-settings';
import {
  BLOCK_BEGIN, BLOCK_END, accountsForAddress, lineFits, msmtpArgument, parseMsmtprc, type AppBlock, type MsmtprcModel,
} from './msmtprc-parse';

/** A value or a file the app will not write; nothing was changed. */
export class AccountFileError extends Error {
  override name = 'AccountFileError';
}

/**
 * Settings msmtp may inherit from an earlier `defaults` that would change or break the new account (another
 * password, a proxy or socket in between, another certificate): when `defaults` sets one, the block sets it empty,
 * which msmtp reads as "not set".
 */
const CLEARED_WHEN_INHERITED = [
  'password', 'passwordeval', 'socket', 'proxy_host', 'tls_host_override', 'tls_cert_file', 'tls_key_file',
  'tls_crl_file', 'tls_fingerprint', 'tls_priorities', 'ntlmdomain', 'source_ip',
] as const;

/**
 * The block's lines for one account. Every setting that decides where the mail and the password go is written,
 * even when it equals msmtp's default, so that an earlier `defaults` cannot change it. Only commands msmtp 1.8.23
 * knows are written.
 */
export function blockLines(settings: AccountSettings, name: string, setDefault: boolean,
  defaultsAtEnd: ReadonlyMap<string, string>): string[] {
  checkSettings(settings);
  const lines = [
    `${BLOCK_BEGIN}${name}`,
    '# Written by msmtp Relay: its password is in the key ring (service smtp), not in this file.',
    `account ${quoted(name, 'account name')}`,
    `host ${settings.host}`,
    `port ${settings.port}`,
    `from ${settings.address}`,
    `user ${quoted(settings.user, 'user')}`,
    'auth on',
    'tls on',
    `tls_starttls ${settings.tls === 'starttls' ? 'on' : 'off'}`,
    `tls_trust_file ${settings.tlsTrustFile === undefined ? 'system' : quoted(settings.tlsTrustFile, 'trust file')}`,
    'tls_certcheck on',
  ];
  if (settings.tlsFingerprint !== undefined) lines.push(`tls_fingerprint ${settings.tlsFingerprint}`);
  for (const keyword of CLEARED_WHEN_INHERITED) {
    if (keyword === 'tls_fingerprint' && settings.tlsFingerprint !== undefined) continue;
    if ((defaultsAtEnd.get(keyword) ?? '') !== '') lines.push(keyword);
  }
  if (setDefault) lines.push(`account default : ${name}`);
  lines.push(`${BLOCK_END}${name}`);
  return lines;
}

/** msmtp's 500 bytes a line, less the longest command with its blank, two quotes and CRLF. */
const MAX_VALUE_BYTES = 480;

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\uFEFF]/;

/** Refuses what msmtp could not read back as the same value, or what could add a line of its own. */
export function checkSettings(settings: AccountSettings): void {
  for (const [label, value] of Object.entries({
    address: settings.address, host: settings.host, user: settings.user,
    'trust file': settings.tlsTrustFile ?? '', fingerprint: settings.tlsFingerprint ?? '',
  })) {
    if (CONTROL.test(value)) throw new AccountFileError(`the ${label} contains a line break or another control character`);
  }
  // A plain address: msmtp compares `from` with the envelope sender as a string, and a glob character would make it
  // a pattern (fnmatch); quotes, blanks and '#' have no place in what mail programs send as the envelope sender.
  if (!/^[A-Za-z0-9.!$%&'+/=^_`{|}~-]+@[A-Za-z0-9.-]+$/.test(settings.address) || /^\.|\.\.|\.@/.test(settings.address)) {
    throw new AccountFileError(`'${settings.address}' is not a plain e-mail address (name@domain, without quotes, blanks, '#', '*', '?' or '[')`);
  }
  if (!/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$/.test(settings.host)) {
    throw new AccountFileError(`'${settings.host}' is not a host name (letters, digits, dots and dashes)`);
  }
  if (!Number.isInteger(settings.port) || settings.port < 1 || settings.port > 65535) {
    throw new AccountFileError(`port ${settings.port} is not a port number (1 to 65535)`);
  }
  if (settings.user === '') throw new AccountFileError('the user name is empty');
  for (const [label, value] of Object.entries({ address: settings.address, host: settings.host, user: settings.user, 'trust file': settings.tlsTrustFile ?? '' })) {
    // The longest command name written with it ('tls_trust_file ', quotes, CRLF) must still fit msmtp's line.
    if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) throw new AccountFileError(`the ${label} is too long for msmtp's file (at most ${MAX_VALUE_BYTES} bytes)`);
  }
  if (settings.tlsTrustFile !== undefined && settings.tlsTrustFile.trim() === '') {
    throw new AccountFileError('the trust file name is empty');
  }
  if (settings.tlsFingerprint !== undefined && !/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(settings.tlsFingerprint)) {
    throw new AccountFileError('the fingerprint is not a SHA-256 fingerprint (32 hex pairs separated by colons)');
  }
}

/**
 * The text msmtp reads back as exactly `value`: msmtp trims blanks and strips one pair of enclosing double quotes,
 * so a value with blanks at either end, or enclosed in quotes itself, is written enclosed in quotes.
 */
function quoted(value: string, label: string): string {
  const text = /^[ \t]|[ \t]$/.test(value) || (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
    ? `"${value}"` : value;
  if (msmtpArgument(` ${text}`) !== value) throw new AccountFileError(`the ${label} cannot be written so that msmtp reads it back unchanged`);
  return text;
}

/** An account name msmtp accepts (no colon or comma), derived from the address and unused in the file. */
export function accountName(model: MsmtprcModel, address: string): string {
  const base = address.toLowerCase();
  const taken = new Set(model.accounts.map((account) => account.name));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

export interface PlannedWrite {
  readonly text: string;
  readonly name: string;
  /** True when the app's own block for this address was replaced rather than a new one appended. */
  readonly updated: boolean;
}

/**
 * The file's new text with the account's block appended, or with the app's earlier block for this address
 * replaced; every other byte stays as it was. Refuses an address that a hand-written account sends as.
 */
export function planAccountWrite(model: MsmtprcModel, settings: AccountSettings): PlannedWrite {
  if (model.problem) throw new AccountFileError(`msmtp's file cannot be changed safely: ${model.problem}`);
  checkSettings(settings);
  const owners = accountsForAddress(model, settings.address);
  const handWritten = owners.find((account) => !account.block);
  if (handWritten) {
    throw new AccountFileError(`${settings.address} is already sent through the hand-written account '${handWritten.name}'; change that account in the file, or remove it first`);
  }
  const previous = ownBlock(model, settings.address);
  if (previous) {
    const wasDefault = model.accounts.some((account) => account.name === 'default' && account.block === previous);
    const before = model.text.slice(0, previous.start);
    const after = model.text.slice(previous.end);
    const keepsLineEnd = model.text.slice(previous.start, previous.end).endsWith('\n');
    const lines = blockLines(settings, previous.name, wasDefault, defaultsBefore(model, previous));
    const text = before + render(lines, model.eol, keepsLineEnd) + after;
    return { text: checked(text, lines, model.eol), name: previous.name, updated: true };
  }
  const name = accountName(model, settings.address);
  const setDefault = model.accounts.length === 0;
  const lines = blockLines(settings, name, setDefault, model.defaultsAtEnd);
  let text = model.text;
  if (text !== '' && !text.endsWith('\n')) text += model.eol;
  if (text !== '' && !/(^|\n)[ \t\r]*\n$/.test(text)) text += model.eol; // one blank line before the block
  return { text: checked(text + render(lines, model.eol, true), lines, model.eol), name, updated: false };
}

/** The file's text without the app's block for this address (and the blank line written before it), or null. */
export function planAccountRemoval(model: MsmtprcModel, address: string): { text: string; name: string } | null {
  const block = ownBlock(model, address);
  if (!block) return null;
  let start = block.start;
  const blank = model.lines.find((line) => line.end === block.start);
  if (blank && /^[ \t]*$/.test(blank.text)) start = blank.start;
  return { text: model.text.slice(0, start) + model.text.slice(block.end), name: block.name };
}

/** The app's block that holds an account sending as `address`. */
export function ownBlock(model: MsmtprcModel, address: string): AppBlock | undefined {
  return accountsForAddress(model, address).find((account) => account.block)?.block;
}

/** What `defaults` holds where the block starts, which is what the block's account starts from. */
function defaultsBefore(model: MsmtprcModel, block: AppBlock): ReadonlyMap<string, string> {
  return parseMsmtprc(model.text.slice(0, block.start)).defaultsAtEnd;
}

function render(lines: readonly string[], eol: string, finalEol: boolean): string {
  return lines.join(eol) + (finalEol ? eol : '');
}

function checked(text: string, lines: readonly string[], eol: '\n' | '\r\n'): string {
  const long = lines.find((line) => !lineFits(line, eol));
  if (long) throw new AccountFileError(`a value is too long for msmtp (a line of its file holds at most ${499 - (eol.length - 1)} characters): '${long.slice(0, 40)}…'`);
  return text;
}
