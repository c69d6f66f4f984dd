/** Shared pieces of the desktop-app tests: temp dirs, free ports, the sink command, bounded waiting, sending mail. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import type { AppSettings } from '../../electron/api';

export const SINK = join(__dirname, 'app-mail-sink.js');

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `msmtp-relay-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A port nobody listens on right now (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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

/** Shell words for the sink command; the node path and the sink path are quoted for the command parser. */
export function sinkCommand(mailDir: string): string {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  return `${quote(process.execPath)} ${quote(SINK)} ${quote(mailDir)} -f %F --`;
}

export function settingsFor(mailDir: string, port: number, user: string): AppSettings {
  return { command: sinkCommand(mailDir), host: '127.0.0.1', port, user, launchAtLogin: false };
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

/** Polls `check` every 20 ms until it returns a truthy value; fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One mail through the relay with nodemailer, authenticated like a mail client configured from the setup pane. */
export async function sendMail(port: number, auth: { user: string; pass: string }, to: string, subject = 'hello'): Promise<string> {
  const transport = createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    auth,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 15_000,
  });
  try {
    const info = await transport.sendMail({ from: 'Ann <ann@example.org>', to, subject, text: `body of ${subject}\n` });
    return info.response;
  } finally {
    transport.close();
  }
}
