import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelayProcess } from '../helpers/relay/relay-process';
import { settle } from '../helpers/wait';
import { connectSmtp } from '../helpers/smtp/smtp-client';

/** Many mails over many sessions against one relay process; its memory and descriptors sampled as it goes. */

export interface SoakOptions {
  mails: number;
  concurrency: number;
  mailsPerSession: number;
}

export interface Sample {
  mails: number;
  rssKb: number;
  fds: number;
}

export interface SoakResult {
  mailsSent: number;
  replies250: number;
  otherReplies: number;
  recorded: number;
  recordedIntact: number;
  engineDelivered: number;
  sessions: number;
  seconds: number;
  samples: Sample[];
  /** Idle, right after start; after a tenth of the mails (warm-up); halfway; at the end, once every session closed. */
  idle: Sample;
  warm: Sample;
  half: Sample;
  end: Sample;
  crashed: string | null;
}

/** The body of mail n; the recorded copy must be exactly this (LF line ends) after our Received header. */
function body(n: number): string {
  return `Subject: soak ${n}\r\nMessage-ID: <${n}@soak.test>\r\n\r\nmail number ${n}\r\n..a stuffed dot line\r\n${'x'.repeat(n % 997)}\r\n`;
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-soak-'));
  // A cheap command (the soak measures the relay, not node start-up): each mail to a file named by its recipient.
  const command = ['/bin/sh', '-c', 'exec cat > "$0/$4"', dir, '-f', '%F', '--'];
  const relay = await startRelayProcess({ options: { command, maxSessions: 16 }, quiet: true });
  const started = Date.now();
  const idle = { mails: 0, ...relay.sample() };
  const samples: Sample[] = [idle];
  let next = 0;
  let done = 0;
  let replies250 = 0;
  let otherReplies = 0;
  let sessions = 0;
  let warm: Sample | null = null;
  let half: Sample | null = null;
  const sampleEvery = Math.max(100, Math.floor(options.mails / 40));
  const worker = async () => {
    while (next < options.mails) {
      const client = await connectSmtp(relay.port, { timeoutMs: 20_000 });
      sessions += 1;
      try {
        if ((await client.command('EHLO soak.test', 20_000)).code !== 250) throw new Error('EHLO refused');
        for (let i = 0; i < options.mailsPerSession && next < options.mails; i++) {
          const n = next++;
          client.send(`MAIL FROM:<soak@hard.test>\r\nRCPT TO:<m${n}@soak.test>\r\nDATA\r\n`);
          const codes = (await client.readReplies(3, 20_000)).map((reply) => reply.code);
          if (codes.join() !== '250,250,354') throw new Error(`mail ${n}: ${codes.join()}`);
          client.send(`${body(n).replace(/^\./gm, '..')}.\r\n`);
          const reply = await client.readReply(30_000);
          if (reply.code === 250) replies250 += 1;
          else otherReplies += 1;
          done += 1;
          if (done % sampleEvery === 0) {
            const sample = { mails: done, ...relay.sample() };
            samples.push(sample);
            if (!warm && done >= options.mails / 10) warm = sample;
            if (!half && done >= options.mails / 2) half = sample;
          }
        }
        await client.command('QUIT', 20_000);
      } finally {
        client.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (Date.now() - started) / 1000;
  const stats = await settle(() => relay.stats(), (s) => s.activeSessions === 0, 10_000);
  // Sockets of closed sessions may linger for up to 2 s before they are destroyed.
  await settle(() => relay.sample().fds, (fds) => fds <= idle.fds, 5000);
  const end = { mails: done, ...relay.sample() };
  samples.push(end);
  const files = readdirSync(dir);
  let intact = 0;
  for (const name of files) {
    const n = Number(/^m(\d+)@soak\.test$/.exec(name)?.[1] ?? -1);
    const text = readFileSync(join(dir, name), 'latin1');
    if (n >= 0 && /^Received: [^\n]*\n\t[^\n]*\n\t[^\n]*\n/.test(text) && text.endsWith(`\n${body(n).replace(/\r\n/g, '\n')}`)) intact += 1;
  }
  const exited = relay.exited();
  await relay.stop();
  rmSync(dir, { recursive: true, force: true });
  return {
    mailsSent: done,
    replies250,
    otherReplies,
    recorded: files.length,
    recordedIntact: intact,
    engineDelivered: stats.mailsDelivered,
    sessions,
    seconds,
    samples,
    idle,
    warm: warm ?? idle,
    half: half ?? warm ?? idle,
    end,
    crashed: exited ? JSON.stringify(exited) : null,
  };
}
