import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** A reply's code and its last line, enough for a load client. */
export interface Reply {
  readonly code: number;
  readonly text: string;
}

/** Thrown when a server answers 421 at connect: the session limit was reached. */
export class RefusedError extends Error {
  override name = 'RefusedError';
}

/**
 * The benchmark's SMTP client: one command per write, and it always waits for the reply before the next write.
 * No pipelining on purpose: msmtpd drops replies when a client sends ahead (reference §0.2), and both servers
 * must see the same client.
 */
export class SmtpConnection {
  /** connect() until the greeting arrived, in ms. */
  greetingMs = 0;
  private buffer = '';
  private replies: Reply[] = [];
  private waiter: { resolve: (reply: Reply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | null = null;
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.receive(text));
    socket.on('end', () => this.fail(new Error('the server closed the connection')));
    socket.on('error', (error) => this.fail(error));
  }

  /** Connects and reads the greeting; a 421 greeting rejects with RefusedError. */
  static async open(port: number, timeoutMs: number): Promise<SmtpConnection> {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    const connection = new SmtpConnection(socket, timeoutMs);
    try {
      const greeting = await connection.nextReply();
      connection.greetingMs = performance.now() - started;
      if (greeting.code === 421) throw new RefusedError(`refused: ${greeting.text}`);
      if (greeting.code !== 220) throw new Error(`unexpected greeting ${greeting.code} ${greeting.text}`);
      return connection;
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  /** Sends one command line and returns its reply; anything but `expect` is an error. */
  async command(line: string, expect: number): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.expect(expect, line);
  }

  /** Sends a whole small mail (already dot-stuffed, CRLF line ends) plus the final dot in one write. */
  async sendMessage(message: string): Promise<Reply> {
    this.socket.write(`${message}.\r\n`);
    return this.expect(250, 'end of data');
  }

  /** Streams a body of about `bytes` bytes (lines of 78 characters) with backpressure, then the final dot. */
  async sendLargeMessage(bytes: number): Promise<Reply> {
    const line = `${'0123456789abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(0, 76)}\r\n`;
    const linesPerChunk = Math.floor(65536 / line.length);
    const chunk = Buffer.from(line.repeat(linesPerChunk));
    this.socket.write('Subject: large mail\r\n\r\n');
    for (let lines = Math.ceil(bytes / line.length); lines > 0; lines -= linesPerChunk) {
      if (this.failure) throw this.failure;
      const part = lines >= linesPerChunk ? chunk : chunk.subarray(0, lines * line.length);
      if (!this.socket.write(part)) await this.drained();
    }
    this.socket.write('.\r\n');
    return this.expect(250, 'end of data');
  }

  /** QUIT, its 221, and the server's close; a server that does not close in time is cut off. */
  async quit(): Promise<void> {
    this.socket.write('QUIT\r\n');
    await this.expect(221, 'QUIT');
    await new Promise<void>((resolve) => {
      if (this.socket.readableEnded || this.socket.destroyed) return resolve();
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, this.timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.resume();
    });
    this.socket.destroy();
  }

  /** Resolves once the socket can take more, or is gone (the next write or reply then reports why). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async expect(code: number, what: string): Promise<Reply> {
    const reply = await this.nextReply();
    if (reply.code !== code) throw new Error(`${what}: expected ${code}, got ${reply.code} ${reply.text}`);
    return reply;
  }

  private nextReply(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  private receive(text: string): void {
    this.buffer += text;
    for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      if (line[3] === '-') continue; // a continuation line of a multi-line reply
      this.deliver({ code: Number(line.slice(0, 3)), text: line.slice(4) });
    }
  }

  private deliver(reply: Reply): void {
    const waiter = this.waiter;
    if (!waiter) {
      this.replies.push(reply);
      return;
    }
    this.waiter = null;
    clearTimeout(waiter.timer);
    waiter.resolve(reply);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = null;
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }
}
