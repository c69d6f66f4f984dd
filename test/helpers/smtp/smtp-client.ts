import { connect, type Socket } from 'node:net';

/** One SMTP reply: the code and the text of each line (without "250-" / "250 "). */
export interface SmtpReply {
  readonly code: number;
  readonly lines: readonly string[];
  /** The reply as it came over the wire, CRLFs included. */
  readonly raw: string;
}

export interface ConnectOptions {
  host?: string;
  /** Upper bound for connecting and for reading the greeting. */
  timeoutMs?: number;
  /** Read the first reply (the greeting, or a 421 refusal) before returning. Default true. */
  readGreeting?: boolean;
}

const DEFAULT_TIMEOUT_MS = 5000;
const REPLY_LINE = /^(\d{3})([ -])(.*)$/;

/**
 * A raw-socket SMTP client for tests: it sends any bytes exactly as given (pipelining, bare LF, half-close,
 * a drop in mid-DATA) and parses what comes back. Every wait has a timeout.
 */
export class SmtpTestClient {
  /** The first reply of the server, when connect() read it. */
  greeting: SmtpReply | null = null;
  private received = '';
  private ended = false;
  private closed = false;
  private socketError: Error | null = null;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.received += text;
      this.poke();
    });
    socket.on('end', () => {
      this.ended = true;
      this.poke();
    });
    socket.on('close', () => {
      this.closed = true;
      this.poke();
    });
    socket.on('error', (error) => {
      this.socketError = error;
      this.poke();
    });
  }

  static async connect(port: number, options: ConnectOptions = {}): Promise<SmtpTestClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const socket = connect({ host: options.host ?? '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to port ${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const client = new SmtpTestClient(socket);
    if (options.readGreeting ?? true) client.greeting = await client.readReply(timeoutMs);
    return client;
  }

  /** Writes bytes exactly as given; no CRLF is added. */
  send(raw: string | Buffer): void {
    this.socket.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
  }

  /** Sends one command line (CRLF appended) and reads its reply. */
  async command(line: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<SmtpReply> {
    this.send(`${line}\r\n`);
    return this.readReply(timeoutMs);
  }

  /** Reads the next complete reply (all its lines); rejects on timeout or when the server closes first. */
  async readReply(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.takeReply();
      if (reply) return reply;
      if (this.ended || this.closed) {
        throw new Error(`connection closed while waiting for a reply; unparsed: ${JSON.stringify(this.received)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete reply within ${timeoutMs} ms; got so far: ${JSON.stringify(this.received)}`);
      await this.nextEvent(left);
    }
  }

  /** Reads n replies in order, e.g. the answers to a pipelined batch. */
  async readReplies(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<SmtpReply[]> {
    const deadline = Date.now() + timeoutMs;
    const replies: SmtpReply[] = [];
    for (let i = 0; i < n; i++) replies.push(await this.readReply(Math.max(1, deadline - Date.now())));
    return replies;
  }

  /**
   * Waits until the server has closed the connection (FIN or reset); rejects on timeout.
   * Resolves with whatever the server sent that no readReply() consumed.
   */
  async expectClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`server did not close the connection within ${timeoutMs} ms; unread: ${JSON.stringify(this.received)}`);
      await this.nextEvent(left);
    }
    const rest = this.received;
    this.received = '';
    return rest;
  }

  /** True once the server closed its side or the socket failed. */
  get isClosed(): boolean {
    return this.ended || this.closed;
  }

  /** The socket error seen, if any (e.g. ECONNRESET after an abrupt close). */
  get error(): Error | null {
    return this.socketError;
  }

  /** Half-close: sends FIN, keeps reading. */
  end(): void {
    this.socket.end();
  }

  /** Drops the connection at once. Safe to call twice; call it in every test's cleanup. */
  destroy(): void {
    this.socket.destroy();
  }

  private takeReply(): SmtpReply | null {
    const lines: string[] = [];
    let offset = 0;
    let code = 0;
    for (;;) {
      const end = this.received.indexOf('\n', offset);
      if (end < 0) return null;
      const line = this.received.slice(offset, end).replace(/\r$/, '');
      offset = end + 1;
      const match = REPLY_LINE.exec(line) ?? /^(\d{3})()$/.exec(line);
      if (!match) throw new Error(`malformed reply line ${JSON.stringify(line)} in ${JSON.stringify(this.received)}`);
      const lineCode = Number(match[1]);
      if (lines.length > 0 && lineCode !== code) {
        throw new Error(`reply code changed inside a multi-line reply: ${JSON.stringify(this.received.slice(0, offset))}`);
      }
      code = lineCode;
      lines.push(match[3] ?? '');
      if (match[2] !== '-') {
        const raw = this.received.slice(0, offset);
        this.received = this.received.slice(offset);
        return { code, lines, raw };
      }
    }
  }

  private nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private poke(): void {
    this.wake?.();
  }
}

/** Connects and reads the greeting: `const c = await connectSmtp(port)`. */
export function connectSmtp(port: number, options?: ConnectOptions): Promise<SmtpTestClient> {
  return SmtpTestClient.connect(port, options);
}
