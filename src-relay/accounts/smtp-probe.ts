/**
 * Asks a guessed host whether it takes mail submissions over TLS: the TLS handshake (port 465) or STARTTLS after
 * EHLO (port 587), with the certificate checked against the host name, then EHLO and QUIT. It never logs in and
 * never accepts a server that offers no TLS.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, rootCertificates, type TLSSocket } from 'node:tls';
import type { TlsMode } from './account-settings';
import type { NetworkSeams } from './https-fetch';

export type ProbeOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The longest reply a probe reads: an EHLO list is a few hundred bytes. */
const MAX_REPLY = 16 * 1024;

export async function probeSmtp(
  host: string, port: number, mode: TlsMode, seams: NetworkSeams, timeoutMs: number, signal?: AbortSignal,
): Promise<ProbeOutcome> {
  let target;
  try {
    target = seams.connectTo?.(host, port) ?? { host, port };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const tlsOptions = { servername: host, ...(seams.ca ? { ca: [...rootCertificates, seams.ca] } : {}) };
  const sockets: Socket[] = [];
  const timer = setTimeout(() => sockets.forEach((socket) => socket.destroy(new Error('timed out'))), timeoutMs);
  const abort = () => sockets.forEach((socket) => socket.destroy(new Error('cancelled')));
  signal?.addEventListener('abort', abort, { once: true });
  try {
    let talk: Dialogue;
    if (mode === 'tls') {
      const secure = await open(connectTls({ host: target.host, port: target.port, ...tlsOptions }), 'secureConnect', sockets);
      talk = new Dialogue(secure);
      await talk.expect(220);
      await talk.send('EHLO localhost', 250);
    } else {
      const plain = await open(connectTcp({ host: target.host, port: target.port }), 'connect', sockets);
      const first = new Dialogue(plain);
      await first.expect(220);
      const ehlo = await first.send('EHLO localhost', 250);
      if (!ehlo.some((line) => /^STARTTLS\b/i.test(line.slice(4)))) return { ok: false, reason: 'the server offers no STARTTLS' };
      await first.send('STARTTLS', 220);
      first.detach();
      const secure = await open(connectTls({ socket: plain, ...tlsOptions }), 'secureConnect', sockets);
      talk = new Dialogue(secure);
      await talk.send('EHLO localhost', 250);
    }
    // A polite end; the answer is already known, so a server that closes instead of saying 221 changes nothing.
    await talk.send('QUIT', 221).catch(() => undefined);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', abort);
    for (const socket of sockets) socket.destroy();
  }
}

function open<T extends Socket | TLSSocket>(socket: T, ready: 'connect' | 'secureConnect', sockets: Socket[]): Promise<T> {
  sockets.push(socket);
  return new Promise<T>((resolve, reject) => {
    socket.once(ready, () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('the connection closed')));
  });
}

/** Reads SMTP replies line by line from one socket. */
class Dialogue {
  private buffer = '';
  /** Bytes read since the last complete reply was taken. */
  private unread = 0;
  private lines: string[] = [];
  private waiting: ((error?: Error) => void) | undefined;
  /** Why the socket can give no more replies, once it cannot. */
  private ended: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString('latin1');
    this.unread += chunk.length;
    if (this.unread > MAX_REPLY) {
      this.onEnd(new Error('the server talks too much'));
      return;
    }
    let end: number;
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      this.lines.push(this.buffer.slice(0, end).replace(/\r$/, ''));
      this.buffer = this.buffer.slice(end + 1);
    }
    this.wake();
  };
  private readonly onEnd = (error?: Error) => {
    this.ended ??= error ?? new Error('the connection closed');
    this.wake(this.ended);
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('error', this.onEnd);
    socket.on('close', () => this.onEnd());
  }

  /** Stops reading (before STARTTLS hands the socket to TLS). */
  detach(): void {
    this.socket.off('data', this.onData);
  }

  async send(command: string, code: number): Promise<string[]> {
    this.socket.write(`${command}\r\n`);
    return this.expect(code);
  }

  /** The next complete reply; throws unless its code is `code`. */
  async expect(code: number): Promise<string[]> {
    for (;;) {
      const last = this.lines.findIndex((line) => /^\d{3}(?: |$)/.test(line));
      if (last >= 0) {
        const reply = this.lines.splice(0, last + 1);
        this.unread = 0;
        const got = Number(reply[reply.length - 1]!.slice(0, 3));
        if (got !== code) throw new Error(`the server answered ${reply[reply.length - 1]!.slice(0, 200)}`);
        return reply;
      }
      if (this.ended) throw this.ended;
      await new Promise<void>((resolve, reject) => {
        this.waiting = (error) => (error ? reject(error) : resolve());
      });
    }
  }

  private wake(error?: Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(error);
  }
}
