import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

/** One mail as the sink received it: the SMTP envelope and the message bytes exactly as sent (CRLF, unstuffed). */
export interface SinkMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly helo: string;
  readonly raw: Buffer;
}

export interface SmtpSink {
  readonly port: number;
  readonly mails: readonly SinkMail[];
  /** Resolves once at least n mails arrived; rejects after timeoutMs, naming what did arrive. */
  waitForMails(n: number, timeoutMs: number): Promise<readonly SinkMail[]>;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Recipients for which the sink answers RCPT with 550, so a test can watch the failure travel back. */
  rejectRecipient?: (address: string) => boolean;
  /**
   * The sink's answer at the end of DATA for a mail to these recipients: null takes it, a reply refuses it (msmtp
   * has then read the whole mail, so what it says about the refusal always reaches the relay).
   */
  dataReply?: (to: readonly string[]) => { code: number; message: string } | null;
  /** A reply code (4xx or 5xx) the sink gives RCPT for this recipient, or null to accept it. */
  recipientReply?: (address: string) => number | null;
  /** Listen on this port (a provider that comes back where msmtp expects it); default: any free port. */
  port?: number;
  /** A slow provider: the 250 after each mail's final dot comes this much later. */
  acceptDelayMs?: number;
}

/**
 * A real SMTP server on 127.0.0.1:<ephemeral> that stands in for the mail provider at the far end of msmtp.
 * nodemailer's smtp-server is fine here: it is a test sink, not part of the product. No TLS, no AUTH (the test
 * msmtprc says `tls off`, `auth off`).
 */
export async function startSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const mails: SinkMail[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    onRcptTo(address, _session, callback) {
      const code = options.rejectRecipient?.(address.address) ? 550 : options.recipientReply?.(address.address) ?? null;
      if (code !== null) {
        const error = Object.assign(new Error(`sink refuses <${address.address}>`), { responseCode: code });
        callback(error);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const envelope = session.envelope;
        const refusal = options.dataReply?.(envelope.rcptTo.map((rcpt) => rcpt.address));
        if (refusal) {
          callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
          return;
        }
        mails.push({
          from: envelope.mailFrom ? envelope.mailFrom.address : '',
          to: envelope.rcptTo.map((rcpt) => rcpt.address),
          helo: session.hostNameAppearsAs,
          raw: Buffer.concat(chunks),
        });
        notify();
        if (options.acceptDelayMs) setTimeout(() => callback(), options.acceptDelayMs);
        else callback();
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // smtp-server keeps its net.Server on .server; the typings do not declare it.
  const netServer = (server as unknown as { server: { address(): AddressInfo } }).server;
  const port = netServer.address().port;
  // A client that misbehaves must not crash the test process.
  server.on('error', () => {});

  return {
    port,
    mails,
    waitForMails(n, timeoutMs) {
      if (mails.length >= n) return Promise.resolve(mails);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (mails.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(mails);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const got = mails.map((m) => `${m.from} -> ${m.to.join(',')} (${m.raw.length} bytes)`).join('; ') || 'none';
          reject(new Error(`sink: expected ${n} mail(s) within ${timeoutMs} ms, got ${mails.length}: ${got}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
