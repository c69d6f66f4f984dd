import { Readable } from 'node:stream';
import { Replies } from './reply';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF_DOT = Buffer.from('\r\n.');
/** Input held before the socket is paused: enough for a pipelined burst, bounded against floods. */
const HIGH_WATER = 256 * 1024;
const EMPTY = Buffer.alloc(0);

/** Why a read stopped before its terminator arrived. */
export class StreamEndedError extends Error {
  constructor(readonly reason: 'eof' | 'timeout' | 'destroyed', readonly during: 'command' | 'data') {
    super(`client ${reason === 'eof' ? 'closed the connection' : reason === 'timeout' ? 'timed out' : 'was disconnected'} during ${during}`);
    this.name = 'StreamEndedError';
  }
}

export interface ReaderLimits {
  /** Longest command line, terminator included. */
  maxLineBytes: number;
  /** A complete command line must arrive within this time (slow-loris bound). */
  commandTimeoutMs: number;
  /** In DATA, the client may stay silent at most this long. */
  dataTimeoutMs: number;
}

/**
 * Owns every byte read from the client, so pipelined input is never lost, and reads it in two modes: command lines
 * and the DATA body. The body ends only on CRLF.CRLF (a bare LF never ends it: no SMTP smuggling) and is dot-unstuffed;
 * its CRLF line ends are kept, so what comes out is byte-exact what the client meant.
 */
export class SmtpReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | null = null;
  /** The pending wait, if any; only the latest wait is ever pending (an abandoned one is simply replaced). */
  private wake: ((arrived: boolean) => void) | null = null;
  /** When the pending wait times out. */
  private deadline = 0;
  private timer: NodeJS.Timeout | null = null;
  /** When `timer` fires. */
  private timerAt = 0;
  private input: Readable;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.finish(null);
  private readonly onError = (error: Error) => this.finish(error);
  private readonly onClose = () => this.finish(null);

  constructor(input: Readable, private readonly limits: ReaderLimits) {
    this.input = input;
    this.attach(input);
  }

  /** True when a complete line is already buffered: the caller can answer without waiting (pipelining). */
  hasBufferedLine(): boolean {
    return this.chunks.some((chunk) => chunk.includes(LF));
  }

  /** From now on every read sees end of input: the session closed from our side and will not wait for the client. */
  endInput(): void {
    this.finish(null);
  }

  /** Drops buffered input and reads from another stream from now on (STARTTLS: plaintext sent early is discarded). */
  replaceInput(input: Readable): void {
    this.detach(this.input);
    this.chunks = [];
    this.buffered = 0;
    this.ended = false;
    this.failure = null;
    this.input = input;
    this.attach(input);
  }

  /**
   * Next command line without its CRLF (a bare LF is accepted as terminator, like msmtpd), or null at EOF.
   * Throws SmtpError 500 for an overlong line after discarding it up to its end, so the dialogue stays in step.
   */
  async readLine(): Promise<string | null> {
    const deadline = Date.now() + this.limits.commandTimeoutMs;
    let overlong = false;
    for (;;) {
      const buffer = this.peekAll();
      const newline = buffer.indexOf(LF);
      if (newline >= 0) {
        this.consume(newline + 1);
        if (overlong || newline + 1 > this.limits.maxLineBytes) throw Replies.lineTooLong();
        const end = newline > 0 && buffer[newline - 1] === CR ? newline - 1 : newline;
        return buffer.subarray(0, end).toString('utf8');
      }
      if (buffer.length >= this.limits.maxLineBytes) {
        overlong = true;
        this.consume(buffer.length);
      }
      if (this.ended) {
        if (this.failure) throw new StreamEndedError('destroyed', 'command');
        this.consume(this.buffered);
        return null;
      }
      if (!(await this.waitForInput(deadline))) throw new StreamEndedError('timeout', 'command');
    }
  }

  /**
   * The body of one mail as a stream: unstuffed, CRLF kept, ending at CRLF.CRLF. It errors with SmtpError 552 once it
   * passes maxBytes, and with StreamEndedError if the client goes away or falls silent before the end.
   * Whoever reads it must either read it to its end or call drainData().
   */
  readData(maxBytes: number): DataBody {
    return new DataBody(this, maxBytes);
  }

  /** @internal Pulls the next piece of the body; null at the end marker. Used by DataBody. */
  async nextDataPiece(state: DataState): Promise<Buffer | null> {
    for (;;) {
      const piece = this.takeDataPiece(state);
      if (piece !== undefined) return piece;
      if (this.ended) throw new StreamEndedError(this.failure ? 'destroyed' : 'eof', 'data');
      if (!(await this.waitForInput(Date.now() + this.limits.dataTimeoutMs))) throw new StreamEndedError('timeout', 'data');
    }
  }

  /**
   * One step of the body parser over the buffered bytes: a piece of body (possibly empty), null at the end marker,
   * or undefined when more input is needed to decide.
   */
  private takeDataPiece(state: DataState): Buffer | null | undefined {
    if (state.done) return null;
    const buffer = this.peekAll();
    let start = 0;
    if (state.atLineStart) {
      if (buffer.length === 0) return undefined;
      if (buffer[0] === DOT) {
        if (buffer.length < 3) return undefined;
        if (buffer[1] === CR && buffer[2] === LF) {
          this.consume(3);
          state.done = true;
          return null;
        }
        start = 1; // a dot-stuffed line: its leading dot is dropped
      }
    }
    const marker = buffer.indexOf(CRLF_DOT, start);
    let end: number;
    if (marker >= 0) {
      end = marker + 2;
      state.atLineStart = true;
    } else if (buffer.length - start >= 2 && buffer[buffer.length - 2] === CR && buffer[buffer.length - 1] === LF) {
      end = buffer.length;
      state.atLineStart = true;
    } else {
      // A trailing CR is held back: with the next bytes it may become the CRLF before the end marker.
      end = buffer[buffer.length - 1] === CR ? buffer.length - 1 : buffer.length;
      if (end > 0) state.atLineStart = false;
    }
    if (end <= start) {
      this.consume(start);
      return start > 0 ? EMPTY : undefined;
    }
    const piece = buffer.subarray(start, end);
    this.consume(end);
    return piece;
  }

  private peekAll(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(bytes: number): void {
    if (bytes === 0) return;
    const buffer = this.peekAll();
    const rest = buffer.subarray(bytes);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    if (this.buffered < HIGH_WATER && this.input.isPaused() && !this.ended) this.input.resume();
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered >= HIGH_WATER) this.input.pause();
    this.notify();
  }

  private finish(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    this.timer?.unref(); // armed, but no wait pends on it
    wake?.(true);
  }

  /**
   * Resolves true when input arrived or the stream ended, false at the deadline. One timer serves every wait of
   * this reader (a session waits four times per mail): it stays armed between waits and is moved only when a
   * wait needs it sooner; when it fires early for the current wait it is set again for the rest.
   */
  private waitForInput(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.deadline = deadline;
      if (this.timer === null || deadline < this.timerAt) this.armTimer(deadline);
      else this.timer.ref();
      if (this.input.isPaused() && this.buffered < HIGH_WATER) this.input.resume();
    });
  }

  private armTimer(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    // Ref'd only while a wait pends on it: an armed timer must not keep alive a process whose sessions are done.
    this.timer = setTimeout(this.onTimer, Math.max(0, at - Date.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    const wake = this.wake;
    if (!wake) return; // nobody waits: armed again by the next wait
    if (this.deadline > Date.now()) {
      this.armTimer(this.deadline);
      return;
    }
    this.wake = null;
    wake(false);
  };

  private attach(input: Readable): void {
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('error', this.onError);
    input.on('close', this.onClose);
  }

  private detach(input: Readable): void {
    input.off('data', this.onData);
    input.off('end', this.onEnd);
    input.off('error', this.onError);
    input.off('close', this.onClose);
  }

  /** Reads and discards the rest of a body so the next command is read in step; the error if the client went away. */
  async drain(state: DataState): Promise<StreamEndedError | null> {
    try {
      while ((await this.nextDataPiece(state)) !== null);
      return null;
    } catch (error) {
      if (error instanceof StreamEndedError) return error;
      throw error;
    }
  }
}

export interface DataState {
  atLineStart: boolean;
  done: boolean;
}

/** The DATA body as a Readable with backpressure: nothing is read from the client faster than it is consumed. */
export class DataBody extends Readable {
  readonly state: DataState = { atLineStart: true, done: false };
  /** Unstuffed bytes passed on so far. */
  bytes = 0;
  /** Set when the client left or fell silent before the end marker. */
  endError: StreamEndedError | null = null;
  private reading = false;

  constructor(private readonly reader: SmtpReader, private readonly maxBytes: number) {
    super();
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const piece = await this.reader.nextDataPiece(this.state);
        if (piece === null) {
          this.push(null);
          break;
        }
        if (piece.length === 0) continue;
        this.bytes += piece.length;
        if (this.bytes > this.maxBytes) throw Replies.messageTooBig(this.maxBytes);
        // No copy needed: a piece is a view of bytes the reader never writes to again.
        if (!this.push(piece)) break;
      }
    } catch (error) {
      if (error instanceof StreamEndedError) this.endError = error;
      this.destroy(error as Error);
    } finally {
      this.reading = false;
    }
  }

  /**
   * The rest of the body, discarded, so the dialogue stays in step after a failed delivery. Resolves with why the
   * client went away before the end of the mail, or null when the end marker was read.
   */
  async drain(): Promise<StreamEndedError | null> {
    if (this.state.done) return null;
    if (this.endError) return this.endError;
    return this.reader.drain(this.state);
  }
}
