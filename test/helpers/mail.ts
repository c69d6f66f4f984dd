import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectSmtp, type SmtpReply, type SmtpTestClient } from './smtp-client';
import { encodeDataBody } from '../properties/smtp-model';
import type { Recording } from './relay-harness';

/** Small pieces the hardening tests share: one mail through a relay, a healthy mail to run beside a fault, waits. */

/** Opens a session and gets as far as the 354 for one recipient. */
export async function openToData(port: number, recipient: string, from = 'sender@hard.test'): Promise<SmtpTestClient> {
  const client = await connectSmtp(port);
  assert.equal(client.greeting?.code, 220);
  client.send(`EHLO hard.test\r\nMAIL FROM:<${from}>\r\nRCPT TO:<${recipient}>\r\nDATA\r\n`);
  const replies = await client.readReplies(4);
  assert.deepEqual(replies.map((reply) => reply.code), [250, 250, 250, 354], replies.map((reply) => reply.raw).join(''));
  return client;
}

/** A body of about `bytes` bytes in 1000-byte lines (CRLF), as a client writes it after the 354 (end marker included). */
export function bigBody(bytes: number, tag = 'big'): Buffer {
  const line = Buffer.from(`${tag} `.padEnd(998, 'x'));
  return encodeDataBody(Array.from({ length: Math.ceil(bytes / 1000) }, () => line));
}

/** Sends one whole mail and returns the reply to its end, leaving the session open. */
export async function sendMail(port: number, recipient: string, body: Buffer, timeoutMs = 10_000): Promise<{ client: SmtpTestClient; reply: SmtpReply }> {
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
    const { client, reply } = await sendMail(port, `healthy-${token}@hard.test`, encodeDataBody(lines.map((l) => Buffer.from(l))));
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
