/** Shared pieces of the desktop-app tests: temp dirs, the sink command and what it kept. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppSettings } from '../../../electron/contract/api';

export const SINK = join(__dirname, 'app-mail-sink.js');

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `msmtp-relay-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** True when nothing accepts connections on 127.0.0.1:port (the relay let go of it). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** A key ring account name no other test (or earlier run) uses. */
export function uniqueUser(tag: string): string {
  return `app-test-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Shell words for the sink command; the node path and the sink path are quoted for the command parser. */
export function sinkCommand(mailDir: string): string {
  return `${quote(process.execPath)} ${quote(SINK)} ${quote(mailDir)} -f %F --`;
}

/** Settings whose command is the real msmtp with a test msmtprc (its provider: a loopback SMTP sink, or nothing). */
export function msmtpSettingsFor(msmtprc: string, port: number, user: string): AppSettings {
  return { ...settingsFor('', port, user), command: `msmtp -C ${quote(msmtprc)} -f %F --` };
}

export function settingsFor(mailDir: string, port: number, user: string): AppSettings {
  return { command: sinkCommand(mailDir), host: '127.0.0.1', port, user, launchAtLogin: false, keepUnsent: true, tls: false, notifications: true };
}

export interface SunkMail {
  argv: string[];
  body: string;
}

export async function sunkMails(mailDir: string): Promise<SunkMail[]> {
  const names = (await readdir(mailDir)).filter((name) => name.endsWith('.mail.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(mailDir, name), 'utf8')) as SunkMail));
}

export async function heldCount(mailDir: string): Promise<number> {
  return (await readdir(mailDir)).filter((name) => name.endsWith('.held')).length;
}
