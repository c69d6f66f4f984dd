import { fixture } from './paths';
import type { SmtpReply, SmtpTestClient } from './smtp-client';

/**
 * argv of test/fixtures/engine-outcome.mjs in msmtp's shape: it records each mail like record-command.mjs and exits
 * as its first recipient asks (exit-75@x, signal-KILL@x, anything else exits 0).
 */
export function outcomeCommand(recordDir: string): string[] {
  return ['/usr/bin/env', `RECORD_DIR=${recordDir}`, process.execPath, fixture('engine-outcome.mjs'), '-f', '%F', '--'];
}

/**
 * argv of test/fixtures/engine-hang.mjs, a command that never exits: it writes its pid and its helper's to pidFile,
 * and reads its stdin to EOF only when `read` (otherwise the relay's writes back up).
 */
export function hangCommand(pidFile: string, read: boolean): string[] {
  return ['/usr/bin/env', `HANG_PID_FILE=${pidFile}`, `HANG_READ=${read ? 1 : 0}`, process.execPath, fixture('engine-hang.mjs')];
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
