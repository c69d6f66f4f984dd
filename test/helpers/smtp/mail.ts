import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectSmtp, type SmtpReply, type SmtpTestClient } from './smtp-client';
import { encodeDataBody } from '../../properties/smtp-model';
import type { Recording } from '../relay/relay-harness';
import { createTransport } from 'nodemailer';

/**
 * One mail through a relay, in the ways the tests send it: a dialogue on an open session (sendMail), a whole mail
 * to a port (mailTo), a real client library (sendWithNodemailer); and a healthy mail to run beside a fault.
 */

/** Opens a session and gets as far as the 354 for one recipient. */
export async function openToData(port: number, recipient: string, from = 'sender@hard.test', helo = 'hard.test'): Promise<SmtpTestClient> {
  const client = await connectSmtp(port);
  assert.equal(client.greeting?.code, 220);
  client.send(`EHLO ${helo}\r\nMAIL FROM:<${from}>\r\nRCPT TO:<${recipient}>\r\nDATA\r\n`);
  const replies = await client.readReplies(4);
  assert.deepEqual(replies.map((reply) => reply.code), [250, 250, 250, 354], replies.map((reply) => reply.raw).join(''));
  return client;
}

/** A body of about `bytes` bytes in 1000-byte lines (CRLF), as a client writes it after the 354 (end marker included). */
export function bigBody(bytes: number, tag = 'big'): Buffer {
  const line = Buffer.from(`${tag} `.padEnd(998, 'x'));
  return encodeDataBody(Array.from({ length: Math.ceil(bytes / 1000) }, () => line));
}

/** Connects, sends one whole mail (`body` as written after the 354) and returns the reply to its end, session left open. */
export async function mailTo(port: number, recipient: string, body: Buffer, timeoutMs = 10_000): Promise<{ client: SmtpTestClient; reply: SmtpReply }> {
  const client = await openToData(port, recipient);
  client.send(body);
  return { client, reply: await client.readReply(timeoutMs) };
}

/**
 * A healthy mail, started now, to run beside a fault: resolves once it got its 250 and QUIT's 221. `check` then
 * finds its recording, byte-exact (LF line ends after our Received header).
 */
export function healthyMail(port: number): { done: Promise<void>; check(recordings: readonly Recording[]): void } {
  const token = randomBytes(6).toString('hex');
  const lines = [`Subject: healthy ${token}`, '', 'a healthy mail beside a fault', '.with a leading dot'];
  const done = (async () => {
    const { client, reply } = await mailTo(port, `healthy-${token}@hard.test`, encodeDataBody(lines.map((l) => Buffer.from(l))));
    try {
      assert.equal(reply.code, 250, `healthy mail: ${reply.raw}`);
      assert.equal((await client.command('QUIT')).code, 221);
    } finally {
      client.destroy();
    }
  })();
  return {
    done,
    check(recordings) {
      const mine = recordings.filter((r) => r.argv.includes(`healthy-${token}@hard.test`));
      assert.equal(mine.length, 1, 'the healthy mail was recorded once');
      const text = mine[0]!.stdin.toString('utf8');
      assert.ok(text.endsWith(`\n${lines.join('\n')}\n`), `healthy mail altered: ${JSON.stringify(text.slice(-200))}`);
    },
  };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Dot-stuffs a body given with CRLF line ends and appends the end marker. */
export function dataBlock(body: string): string {
  const stuffed = body.replace(/(^|\r\n)\./g, '$1..');
  return `${stuffed}${stuffed === '' || stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`;
}

export interface MailReplies {
  mail: SmtpReply;
  rcpts: SmtpReply[];
  /** The reply to DATA (354), absent when no recipient was accepted. */
  data?: SmtpReply;
  /** The reply to the end of data, absent when DATA was refused. */
  final?: SmtpReply;
}

/** One mail transaction, one command at a time, the way a cautious client sends it. */
export async function sendMail(client: SmtpTestClient, from: string, to: readonly string[], body: string): Promise<MailReplies> {
  const mail = await client.command(`MAIL FROM:<${from}>`);
  const rcpts: SmtpReply[] = [];
  for (const rcpt of to) rcpts.push(await client.command(`RCPT TO:<${rcpt}>`));
  if (mail.code !== 250 || !rcpts.some((r) => r.code === 250)) return { mail, rcpts };
  const data = await client.command('DATA');
  if (data.code !== 354) return { mail, rcpts, data };
  client.send(dataBlock(body));
  return { mail, rcpts, data, final: await client.readReply() };
}

/** One mail through the relay with nodemailer, authenticated like a mail client configured from the setup pane. */
export async function sendWithNodemailer(port: number, auth: { user: string; pass: string }, to: string, subject = 'hello'): Promise<string> {
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
