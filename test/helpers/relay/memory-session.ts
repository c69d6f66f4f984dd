import { Duplex, PassThrough } from 'node:stream';
import type { RelayEngine, SessionEndReason } from '../../../src-relay/index';
import { parseTranscript, type ParsedReply } from '../smtp/replies';

/**
 * One session of a real engine (handleConnection, the inetd path) over an in-memory stream pair: no socket, so a
 * fuzz case costs microseconds. The client side reads replies strictly (replies.ts) and every wait is bounded.
 */
export class MemorySession {
  readonly ended: Promise<SessionEndReason>;
  private readonly toServer = new PassThrough();
  private readonly fromServer = new PassThrough();
  private transcript = '';
  private taken = 0;
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(relay: RelayEngine, remote = '127.0.0.1') {
    this.fromServer.setEncoding('latin1');
    this.fromServer.on('data', (text: string) => {
      this.transcript += text;
      this.poke();
    });
    this.fromServer.on('end', () => {
      this.closed = true;
      this.poke();
    });
    const io = Duplex.from({ readable: this.toServer, writable: this.fromServer });
    this.ended = relay.handleConnection(io, remote);
    // The engine ends its side when the session is over; a session that returns without doing so is a bug too.
    void this.ended.finally(() => {
      this.closed = true;
      this.poke();
    });
  }

  send(bytes: string | Buffer): void {
    if (!this.toServer.writableEnded) this.toServer.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Half-close: the server sees EOF. */
  end(): void {
    if (!this.toServer.writableEnded) this.toServer.end();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Everything the server sent so far. */
  get raw(): string {
    return this.transcript;
  }

  /** The next reply; null when the server closed without one. Throws on a malformed transcript or a timeout. */
  async nextReply(timeoutMs: number): Promise<ParsedReply | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseTranscript(this.transcript);
      if (parsed.problems.length > 0) throw new Error(`malformed reply: ${parsed.problems.join('; ')}`);
      if (parsed.replies.length > this.taken) return parsed.replies[this.taken++]!;
      if (this.closed) {
        if (parsed.rest !== '') throw new Error(`server closed in the middle of a reply: ${JSON.stringify(parsed.rest)}`);
        return null;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; transcript: ${JSON.stringify(this.transcript.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Replies the server sent beyond the ones read with nextReply(). */
  unreadReplies(): ParsedReply[] {
    return parseTranscript(this.transcript).replies.slice(this.taken);
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
