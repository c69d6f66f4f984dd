import type { Socket } from 'node:net';

/** One SMTP reply, its lines joined: code 250, lines ['mx.example.org', 'AUTH PLAIN LOGIN', ...]. */
export interface Reply {
  readonly code: number;
  readonly lines: readonly string[];
}

export function replyText(reply: Reply): string {
  return `${reply.code} ${reply.lines.join(' ')}`.trim();
}

/** Why a reply did not come. */
export class ReplyError extends Error {
  override name = 'ReplyError';
  constructor(readonly kind: 'timeout' | 'closed' | 'garbage' | 'error', message: string, readonly code?: string) {
    super(message);
  }
}

/**
 * Reads SMTP replies from one socket (plain or TLS): multi-line replies ("250-..." up to "250 ..."), each with a
 * deadline. Bytes that are not a reply line (a TLS server's handshake, an HTTP server) end the reading at once.
 */
export class ReplyReader {
  private buffer = '';
  private waiting: { resolve: (reply: Reply) => void; reject: (error: ReplyError) => void } | null = null;
  private failure: ReplyError | null = null;
  private readonly lines: string[] = [];

  constructor(private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.take(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(new ReplyError('error', error.message, error.code)));
    socket.on('close', () => this.fail(new ReplyError('closed', 'the server closed the connection')));
  }

  /** The next complete reply. */
  next(): Promise<Reply> {
    const ready = this.complete();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new ReplyError('timeout', `no reply within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      this.waiting = {
        resolve: (reply) => { clearTimeout(timer); resolve(reply); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      };
    });
  }

  /** Stops reading this socket (before STARTTLS hands it to TLS). */
  detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    this.socket.on('error', () => undefined);
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      if (!/^[2-5]\d\d([ -].*)?$/.test(line)) {
        this.fail(new ReplyError('garbage', 'the server does not speak SMTP'));
        return;
      }
      this.lines.push(line);
    }
    if (this.buffer.length > 4096 || /[^\t\r\n\x20-\x7e\x80-\xff]/.test(this.buffer)) {
      this.fail(new ReplyError('garbage', 'the server does not speak SMTP'));
      return;
    }
    const reply = this.waiting ? this.complete() : null;
    if (reply && this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve(reply);
    }
  }

  private complete(): Reply | null {
    const last = this.lines.findIndex((line) => line.length === 3 || line[3] === ' ');
    if (last < 0) return null;
    const taken = this.lines.splice(0, last + 1);
    return { code: Number(taken[0]!.slice(0, 3)), lines: taken.map((line) => line.slice(4)) };
  }

  private fail(error: ReplyError): void {
    if (this.failure) return;
    this.failure = error;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
  }
}
