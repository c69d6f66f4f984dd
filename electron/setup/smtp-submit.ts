/**
 * A small SMTP submission client for the test mail: EHLO, STARTTLS when asked (verifying the relay's own
 * certificate), AUTH PLAIN, one mail, QUIT. It talks only to the relay on this computer. Each step reports
 * which step it was, so a refusal by the relay itself is told apart from what msmtp did behind it.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export type SubmitStep = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'message';

export interface SubmitOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  from: string;
  to: string;
  /** The whole message, headers and body, with CRLF or LF line ends. */
  message: string;
  /** STARTTLS, trusting only this certificate (PEM), checked for the name `localhost`. */
  tlsCa?: string;
  timeoutMs?: number;
}

export interface SubmitResult {
  /** The step the dialogue ended at: 'message' when the mail itself got its final reply. */
  step: SubmitStep;
  code: number;
  /** The reply's text, all lines joined by a space ("250 2.0.0 Ok, mail was piped"). */
  reply: string;
  encrypted: boolean;
}

export class SubmitError extends Error {
  constructor(readonly step: SubmitStep, message: string) {
    super(message);
  }
}

/** A Message-ID unique to this test mail, to recognise it (and its log lines) afterwards. */
export function testMessageId(): string {
  return `<test-${Date.now()}-${randomBytes(6).toString('hex')}@msmtp-relay.localhost>`;
}

export async function submitMail(options: SubmitOptions): Promise<SubmitResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  let socket: Socket = await open(options.host, options.port, timeoutMs);
  let lines = replyReader(socket);
  let encrypted = false;
  const ask = async (step: SubmitStep, command: string | null, expect: number): Promise<SubmitResult | null> => {
    if (command !== null) socket.write(`${command}\r\n`);
    const reply = await lines.next(timeoutMs).catch((error: Error) => {
      throw new SubmitError(step, error.message);
    });
    return reply.code === expect ? null : { step, code: reply.code, reply: reply.text, encrypted };
  };
  try {
    let refused = await ask('greeting', null, 220) ?? await ask('ehlo', 'EHLO msmtp-relay-test', 250);
    if (refused) return refused;
    if (options.tlsCa !== undefined) {
      refused = await ask('starttls', 'STARTTLS', 220);
      if (refused) return refused;
      socket = await upgrade(socket, options.tlsCa, timeoutMs);
      encrypted = true;
      lines = replyReader(socket);
      refused = await ask('ehlo', 'EHLO msmtp-relay-test', 250);
      if (refused) return refused;
    }
    const plain = Buffer.from(`\0${options.user}\0${options.password}`, 'utf8').toString('base64');
    refused = await ask('auth', `AUTH PLAIN ${plain}`, 235)
      ?? await ask('mail', `MAIL FROM:<${options.from}>`, 250)
      ?? await ask('rcpt', `RCPT TO:<${options.to}>`, 250)
      ?? await ask('data', 'DATA', 354);
    if (refused) return refused;
    const body = options.message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    socket.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    const final = await lines.next(timeoutMs).catch((error: Error) => {
      throw new SubmitError('message', error.message);
    });
    socket.write('QUIT\r\n');
    return { step: 'message', code: final.code, reply: final.text, encrypted };
  } finally {
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

function open(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SubmitError('connect', `no answer from ${host} port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new SubmitError('connect', error.message));
    });
  });
}

function upgrade(socket: Socket, ca: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    socket.removeAllListeners('data');
    const secure = connectTls({ socket, ca, servername: 'localhost' });
    const timer = setTimeout(() => reject(new SubmitError('starttls', 'the TLS handshake did not finish')), timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once('error', (error: Error) => {
      clearTimeout(timer);
      // Hang up at once: the relay is not to wait for a client that will say nothing more.
      secure.destroy();
      socket.destroy();
      reject(new SubmitError('starttls', `TLS: ${error.message}`));
    });
  });
}

/** Complete SMTP replies from a socket, one at a time ("250-..." lines gathered up to the "250 " line). */
function replyReader(socket: Socket) {
  let buffer = '';
  let gathered: string[] = [];
  const ready: { code: number; text: string }[] = [];
  let waiting: ((reply: { code: number; text: string }) => void) | null = null;
  let failed: Error | null = null;
  let fail: ((error: Error) => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      gathered.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), text: gathered.join(' ') };
        gathered = [];
        if (waiting) {
          const deliver = waiting;
          waiting = null;
          deliver(reply);
        } else {
          ready.push(reply);
        }
      }
    }
  });
  const stop = (error: Error) => {
    failed = error;
    fail?.(error);
  };
  socket.once('close', () => stop(new Error('the relay closed the connection')));
  socket.once('error', (error) => stop(error));
  return {
    next(timeoutMs: number): Promise<{ code: number; text: string }> {
      const queued = ready.shift();
      if (queued) return Promise.resolve(queued);
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
        waiting = (reply) => {
          clearTimeout(timer);
          resolve(reply);
        };
        fail = (error) => {
          clearTimeout(timer);
          reject(error);
        };
      });
    },
  };
}
