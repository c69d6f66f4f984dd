/**
 * The IPC gate's checks for the Accounts pane's calls: exact shapes, bounded strings without control characters,
 * ports 1..65535, the enums. Whether a host or an address makes sense for msmtp is the engine's call (checkSettings),
 * so the user gets its words next to the form instead of an IPC error.
 */
import type { AccountPage, AccountRequest, AccountTls } from '../contract/api';
import { IpcRejected } from './ipc-rejected';

/** RFC 5321's path limit; an address longer than this is not one. */
const MAX_ADDRESS = 254;
const MAX_FIELD = 480;
/** A password longer than this is not a password a provider issues (app passwords are 16 to 64 characters). */
const MAX_PASSWORD = 1024;
/** C0, DEL, C1, the Unicode line and paragraph separators, and the BOM: none belongs in a line of msmtp's file. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\uFEFF]/;
const TLS_MODES: readonly AccountTls[] = ['tls', 'starttls'];
const PAGES: readonly AccountPage[] = ['app-password', 'enable-access'];
const REQUEST_KEYS = ['address', 'confirmed', 'host', 'port', 'tls', 'tlsFingerprint', 'tlsTrustFile', 'user'];
const REQUIRED_KEYS = ['address', 'confirmed', 'host', 'port', 'tls', 'user'];

function line(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string') throw new IpcRejected(`${what} must be a string`);
  if (value.length > max) throw new IpcRejected(`${what} is too long`);
  if (CONTROL.test(value)) throw new IpcRejected(`${what} contains a control character`);
  return value;
}

/** One mail address: user@domain, no blanks or angle brackets. */
export function accountAddress(value: unknown): string {
  const address = line(value, 'the address', MAX_ADDRESS).trim();
  if (!/^[^\s<>@,;"]+@[^\s<>@,;"]+$/.test(address)) throw new IpcRejected('the address must be one mail address');
  return address;
}

export function accountPassword(value: unknown): string {
  const password = line(value, 'the password', MAX_PASSWORD);
  if (password === '') throw new IpcRejected('the password is empty');
  return password;
}

export function accountPage(value: unknown): AccountPage {
  if (!PAGES.includes(value as AccountPage)) throw new IpcRejected('unknown account page');
  return value as AccountPage;
}

export function accountRequest(value: unknown): AccountRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new IpcRejected('the account must be a plain object');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const unknown = keys.filter((key) => !REQUEST_KEYS.includes(key));
  if (unknown.length > 0) throw new IpcRejected(`unknown account fields: ${unknown.slice(0, 5).join(', ')}`);
  const missing = REQUIRED_KEYS.filter((key) => !keys.includes(key));
  if (missing.length > 0) throw new IpcRejected(`missing account fields: ${missing.join(', ')}`);
  const port = record.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new IpcRejected('the port must be a whole number from 1 to 65535');
  if (!TLS_MODES.includes(record.tls as AccountTls)) throw new IpcRejected('tls must be tls or starttls');
  if (typeof record.confirmed !== 'boolean') throw new IpcRejected('confirmed must be true or false');
  const request: AccountRequest = {
    address: accountAddress(record.address),
    host: line(record.host, 'the host', 253).trim(),
    port,
    tls: record.tls as AccountTls,
    user: line(record.user, 'the user name', MAX_FIELD),
    confirmed: record.confirmed,
  };
  if (request.host === '') throw new IpcRejected('the host is empty');
  if (request.user === '') throw new IpcRejected('the user name is empty');
  if (record.tlsTrustFile !== undefined) {
    const file = line(record.tlsTrustFile, 'the trust file', MAX_FIELD);
    if (file.trim() === '') throw new IpcRejected('the trust file is empty');
    request.tlsTrustFile = file;
  }
  if (record.tlsFingerprint !== undefined) {
    const pin = line(record.tlsFingerprint, 'the fingerprint', 200).trim();
    if (!/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(pin)) throw new IpcRejected('the fingerprint must be a SHA-256 fingerprint (32 hex pairs with colons)');
    request.tlsFingerprint = pin;
  }
  return request;
}
