import type { Duplex } from 'node:stream';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { AuthThrottle, credentialsMatch, decodeLoginField, decodePlain, type Credentials } from './auth';
import { addressProblem, stripSourceRoute } from './address';
import { NO_REPORT, type Envelope, type MailResult, type SessionHandler } from './handler';
import type { RelayEvent, SessionEndReason } from '../events';
import type { RelayOptions } from '../options';
import { Replies, SmtpError, SmtpReply, formatReply } from './reply';
import { SmtpReader, StreamEndedError } from './wire';

export interface SessionContext {
  readonly id: string;
  readonly remote: string;
  readonly options: RelayOptions;
  readonly handler: SessionHandler;
  readonly throttle: AuthThrottle;
  readonly emit: (event: RelayEvent) => void;
  /** Aborted when the engine stops: an idle session is closed with 421, a mail in flight may finish first. */
  readonly shutdown: AbortSignal;
  /** How the server sees whether the session is idle and closes it to make room (optional: inetd has no server). */
  readonly control?: SessionControl;
}

/** What the server may see of a running session, and the one thing it may do to it. */
export class SessionControl {
  /** When the session began waiting for its next command; null while it works on one. */
  idleSince: number | null = null;
  /** Set by the session: ends it with this reply. */
  closeWith: ((reply: SmtpError) => void) | null = null;
  /** Why closeIfIdle() ended the session, once it has. */
  closedAs: SessionEndReason | null = null;

  /** Closes the session with the reply if it is waiting for a command; false (and nothing done) if it is busy. */
  closeIfIdle(reply: SmtpError, reason: SessionEndReason): boolean {
    if (this.idleSince === null || !this.closeWith || this.closedAs) return false;
    this.closedAs = reason;
    this.closeWith(reply);
    return true;
  }
}

const HTTP_REQUEST_LINE = /^(GET|POST|PUT|HEAD|OPTIONS|DELETE|PATCH|CONNECT|TRACE|PRI) \S+ HTTP\/\d/i;
const HTTP_HEADER_LINE = /^(host|user-agent|content-type|content-length|origin|referer|accept|connection|cookie):/i;
const ALLOWED_BEFORE_AUTH = new Set(['EHLO', 'HELO', 'AUTH', 'NOOP', 'RSET', 'QUIT', 'STARTTLS']);

/** Reply bytes a client may leave unread before we stop reading its commands (pipelining without reading). */
const MAX_UNREAD_REPLY_BYTES = 64 * 1024;

let tlsContextCache: { key: unknown; cert: unknown; context: SecureContext } | null = null;

/** Ends the session with the given reason; thrown from deep inside the dialogue. */
class SessionEnd extends Error {
  constructor(readonly reason: SessionEndReason, readonly reply?: SmtpReply | SmtpError) {
    super(reason);
  }
}

/**
 * One SMTP session over any duplex stream (a socket, or stdin/stdout in inetd mode): a single async loop over
 * command lines. Every bad command gets its own reply and the session goes on; only too many errors, a timeout,
 * an HTTP request, QUIT or the client leaving end it.
 */
export async function runSession(io: Duplex, context: SessionContext): Promise<SessionEndReason> {
  const session = new Session(io, context);
  return session.run();
}

class Session {
  private readonly reader: SmtpReader;
  private output: Duplex;
  private pending: string[] = [];
  private helo: string | null = null;
  private esmtp = false;
  private user: string | null = null;
  private from: string | null = null;
  private recipients: string[] = [];
  private errors = 0;
  private authFailures = 0;
  private tlsActive = false;
  private readonly control: SessionControl;
  private readonly options: RelayOptions;

  constructor(io: Duplex, private readonly context: SessionContext) {
    this.options = context.options;
    this.control = context.control ?? new SessionControl();
    this.output = io;
    this.reader = new SmtpReader(io, {
      maxLineBytes: this.options.maxLineBytes,
      commandTimeoutMs: this.options.commandTimeoutMs,
      dataTimeoutMs: this.options.dataTimeoutMs,
    });
  }

  async run(): Promise<SessionEndReason> {
    this.control.closeWith = (reply) => {
      this.close(reply);
      // A client that keeps its side open must not hold the session (and stop()) any longer.
      this.reader.endInput();
    };
    const onShutdown = () => this.control.closeIfIdle(Replies.shuttingDown(), 'shutdown');
    this.context.shutdown.addEventListener('abort', onShutdown);
    try {
      this.reply(220, null, `${this.options.hostname} ESMTP msmtp-relay`);
      for (;;) {
        if (this.context.shutdown.aborted) throw new SessionEnd('shutdown', Replies.shuttingDown());
        const line = await this.nextLine();
        if (line === null) return this.control.closedAs ?? (this.context.shutdown.aborted ? 'shutdown' : 'eof');
        await this.dispatch(line);
      }
    } catch (error) {
      if (error instanceof SessionEnd) {
        if (error.reply) this.close(error.reply);
        return error.reason;
      }
      if (error instanceof StreamEndedError) {
        if (this.context.shutdown.aborted) return 'shutdown';
        if (error.reason === 'timeout') {
          this.close(Replies.idleTimeout());
          return 'idle-timeout';
        }
        return 'eof';
      }
      this.context.emit({ type: 'error', message: `[${this.context.id}] session failed: ${describe(error)}` });
      this.close(Replies.internal());
      return 'error';
    } finally {
      this.context.shutdown.removeEventListener('abort', onShutdown);
      this.control.closeWith = null;
      this.flush();
    }
  }

  /** The next command line, after sending the replies queued so far unless more pipelined commands are waiting. */
  private async nextLine(): Promise<string | null> {
    if (!this.reader.hasBufferedLine()) this.flush();
    if (this.output.writableLength > MAX_UNREAD_REPLY_BYTES) await this.repliesRead();
    // Waiting for a command is idle even mid-envelope: nothing is accepted before the reply to DATA's end.
    this.control.idleSince = Date.now();
    try {
      return await this.reader.readLine();
    } catch (error) {
      if (error instanceof SmtpError) {
        this.fail('(line too long)', error);
        return this.nextLine();
      }
      throw error;
    } finally {
      this.control.idleSince = null;
    }
  }

  /**
   * Waits until a client that pipelines commands without reading the replies has caught up: until then no more
   * commands are read, so neither its input nor our replies pile up in memory. One that never reads times out.
   */
  private repliesRead(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.output.off('drain', done);
        this.output.off('close', done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.output.off('drain', done);
        this.output.off('close', done);
        reject(new StreamEndedError('timeout', 'command'));
      }, this.options.commandTimeoutMs);
      this.output.on('drain', done);
      this.output.on('close', done);
    });
  }

  private async dispatch(line: string): Promise<void> {
    if (line.includes('\0')) return this.fail('(NUL)', Replies.syntax('NUL character in command'));
    if (HTTP_REQUEST_LINE.test(line) || HTTP_HEADER_LINE.test(line)) throw new SessionEnd('not-smtp', Replies.notSmtp());
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const argument = space < 0 ? '' : line.slice(space + 1).trim();
    if (this.options.auth && this.user === null && !ALLOWED_BEFORE_AUTH.has(verb)) {
      return this.fail(loggedVerb(verb), Replies.authRequired());
    }
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        return this.greet(verb, argument);
      case 'STARTTLS':
        return this.startTls(argument);
      case 'AUTH':
        return this.authenticate(argument);
      case 'MAIL':
        return this.mail(argument);
      case 'RCPT':
        return this.rcpt(argument);
      case 'DATA':
        return this.data(argument);
      case 'RSET':
        this.resetTransaction();
        return this.reply(250, [2, 0, 0], 'Ok');
      case 'NOOP':
        return this.reply(250, [2, 0, 0], 'Ok');
      case 'QUIT':
        throw new SessionEnd('quit', new SmtpReply(221, [2, 0, 0], 'Bye'));
      case 'VRFY':
        return this.reply(252, [2, 5, 0], 'Cannot VRFY user, but will accept message and attempt delivery');
      case 'HELP':
        return this.reply(214, [2, 0, 0], 'Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP VRFY HELP QUIT');
      default:
        return this.fail(loggedVerb(verb), new SmtpError(500, [5, 5, 2], 'Command not recognized'));
    }
  }

  private greet(verb: 'EHLO' | 'HELO', name: string): void {
    if (name === '') return this.fail(verb, Replies.syntax(`Syntax: ${verb} hostname`));
    this.resetTransaction();
    this.helo = name;
    this.esmtp = verb === 'EHLO';
    if (!this.esmtp) return this.reply(250, null, this.options.hostname);
    const extensions = ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', `SIZE ${this.options.maxMessageBytes}`];
    if (this.options.tls && !this.tlsActive) extensions.push('STARTTLS');
    if (this.options.auth && this.user === null) extensions.push('AUTH PLAIN LOGIN');
    extensions.push('HELP');
    this.pending.push(formatReply(250, null, [this.options.hostname, ...extensions]));
  }

  private async startTls(argument: string): Promise<void> {
    if (!this.options.tls) return this.fail('STARTTLS', new SmtpError(502, [5, 5, 1], 'STARTTLS not available'));
    if (argument !== '') return this.fail('STARTTLS', Replies.syntax('Syntax: STARTTLS'));
    if (this.tlsActive) return this.fail('STARTTLS', Replies.badSequence('Already in TLS'));
    this.reply(220, [2, 0, 0], 'Ready to start TLS');
    this.flush();
    const secure = new TLSSocket(this.output, { isServer: true, secureContext: tlsContext(this.options.tls) });
    // Bytes pipelined after STARTTLS in plaintext are dropped (the STARTTLS command-injection attack).
    this.reader.replaceInput(secure);
    this.output = secure;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StreamEndedError('timeout', 'command')), this.options.commandTimeoutMs);
      secure.once('secure', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (error: Error) => {
        clearTimeout(timer);
        reject(new SessionEnd('error', undefined));
        this.context.emit({ type: 'client-error', session: this.context.id, command: 'STARTTLS', reply: error.message });
      });
      // A client that hangs up in the handshake (it did not trust the certificate) gives no 'error', only 'end'
      // (the socket is half-open); without this the session would wait out the timeout, and stop() forever.
      const gone = () => {
        clearTimeout(timer);
        reject(new StreamEndedError('eof', 'command'));
      };
      secure.once('end', gone);
      secure.once('close', gone);
      secure.once('secure', () => {
        secure.off('end', gone);
        secure.off('close', gone);
      });
    });
    this.tlsActive = true;
    this.helo = null;
    this.user = null;
    this.resetTransaction();
  }

  private async authenticate(argument: string): Promise<void> {
    const expected = this.context.handler.credentials;
    if (!expected) return this.fail('AUTH', Replies.badSequence('Authentication not enabled'));
    if (this.helo === null) return this.fail('AUTH', Replies.badSequence('Send EHLO first'));
    if (this.user !== null) return this.fail('AUTH', Replies.badSequence('Already authenticated'));
    if (this.from !== null) return this.fail('AUTH', Replies.badSequence('AUTH not permitted during a mail transaction'));
    const [mechanism = '', initial, ...extra] = argument.split(' ');
    if (extra.length > 0) return this.fail('AUTH', Replies.syntax('Syntax: AUTH mechanism [initial-response]'));
    let given: Credentials;
    try {
      switch (mechanism.toUpperCase()) {
        case 'PLAIN':
          given = decodePlain(await this.saslResponse(initial, ''));
          break;
        case 'LOGIN': {
          const user = decodeLoginField(await this.saslResponse(initial, 'VXNlcm5hbWU6'));
          const password = decodeLoginField(await this.saslResponse(undefined, 'UGFzc3dvcmQ6'));
          given = { user, password };
          break;
        }
        default:
          return this.fail('AUTH', new SmtpError(504, [5, 5, 4], 'Unrecognized authentication type'));
      }
    } catch (error) {
      if (error instanceof SmtpError) return this.fail('AUTH', error);
      throw error;
    }
    const delayedMs = await this.context.throttle.waitForTurn();
    const ok = credentialsMatch(given, expected);
    this.context.emit({ type: 'auth', session: this.context.id, user: loggedUser(given.user, expected), ok, delayedMs });
    if (ok) {
      this.user = given.user;
      return this.reply(235, [2, 7, 0], 'Authentication successful');
    }
    this.context.throttle.recordFailure();
    this.authFailures += 1;
    this.reply(535, [5, 7, 8], 'Authentication failed');
    if (this.authFailures >= this.options.maxAuthFailures) {
      throw new SessionEnd('auth-failures', new SmtpError(421, [4, 7, 0], 'Too many authentication failures, closing connection'));
    }
  }

  /** The initial response if given ('=' means empty), else a 334 challenge and the next line. '*' cancels. */
  private async saslResponse(initial: string | undefined, challenge: string): Promise<string> {
    let response = initial;
    if (response === undefined) {
      this.reply(334, null, challenge);
      const line = await this.nextLine();
      if (line === null) throw new StreamEndedError('eof', 'command');
      response = line.trim();
    }
    if (response === '*') throw new SmtpError(501, [5, 0, 0], 'Authentication cancelled');
    return response === '=' ? '' : response;
  }

  private mail(argument: string): void {
    if (this.helo === null) return this.fail('MAIL', Replies.badSequence('Send EHLO or HELO first'));
    if (this.from !== null) return this.fail('MAIL', Replies.badSequence('Nested MAIL command'));
    const match = /^FROM:\s*<([^<>]*)>(.*)$/i.exec(argument);
    if (!match) return this.fail('MAIL', Replies.syntax('Syntax: MAIL FROM:<address>'));
    const address = stripSourceRoute(match[1]!);
    try {
      this.checkMailParameters(match[2]!);
    } catch (error) {
      if (error instanceof SmtpError) return this.fail('MAIL', error);
      throw error;
    }
    const problem = address === '' ? null : addressProblem(address);
    if (problem) return this.fail('MAIL', new SmtpError(501, [5, 1, 7], `Invalid address: ${problem}`));
    this.from = address;
    this.reply(250, [2, 1, 0], 'Ok');
  }

  private checkMailParameters(text: string): void {
    for (const parameter of text.trim().split(/\s+/).filter(Boolean)) {
      const [key = '', value] = parameter.split('=', 2) as [string, string | undefined];
      switch (key.toUpperCase()) {
        case 'SIZE':
          if (!value || !/^\d{1,20}$/.test(value)) throw Replies.syntax('Syntax: SIZE=<number>');
          if (Number(value) > this.options.maxMessageBytes) throw Replies.messageTooBig(this.options.maxMessageBytes);
          break;
        case 'BODY':
          if (!value || !/^(7BIT|8BITMIME)$/i.test(value)) throw Replies.syntax('Syntax: BODY=7BIT|8BITMIME');
          break;
        case 'SMTPUTF8':
        case 'AUTH':
          break;
        default:
          throw new SmtpError(555, [5, 5, 4], `Unsupported parameter ${printable(key.slice(0, 32))}`);
      }
    }
  }

  private rcpt(argument: string): void {
    if (this.from === null) return this.fail('RCPT', Replies.badSequence('Need MAIL command first'));
    const match = /^TO:\s*<([^<>]*)>(.*)$/i.exec(argument);
    if (!match) return this.fail('RCPT', Replies.syntax('Syntax: RCPT TO:<address>'));
    if (match[2]!.trim() !== '') return this.fail('RCPT', new SmtpError(555, [5, 5, 4], 'RCPT parameters are not supported'));
    const address = stripSourceRoute(match[1]!);
    const problem = address === '' ? 'empty recipient' : addressProblem(address);
    if (problem) return this.fail('RCPT', new SmtpError(501, [5, 1, 3], `Invalid address: ${problem}`));
    if (this.recipients.length >= this.options.maxRecipients) {
      return this.fail('RCPT', new SmtpError(452, [4, 5, 3], `Too many recipients (max ${this.options.maxRecipients})`));
    }
    this.recipients.push(address);
    this.reply(250, [2, 1, 5], 'Ok');
  }

  private async data(argument: string): Promise<void> {
    if (argument !== '') return this.fail('DATA', Replies.syntax('Syntax: DATA'));
    if (this.from === null) return this.fail('DATA', Replies.badSequence('Need MAIL command first'));
    if (this.recipients.length === 0) return this.fail('DATA', Replies.badSequence('Need RCPT command first'));
    const envelope: Envelope = {
      id: `${this.context.id}`,
      helo: this.helo ?? '',
      remote: this.context.remote,
      ...(this.user !== null ? { user: this.user } : {}),
      from: this.from,
      to: this.recipients,
    };
    this.resetTransaction();
    this.reply(354, null, 'Send data, end with <CR><LF>.<CR><LF>');
    this.flush();
    const started = Date.now();
    const body = this.reader.readData(this.options.maxMessageBytes);
    let result: MailResult;
    try {
      result = await this.context.handler.deliver(envelope, body);
    } catch (error) {
      const reply = Replies.internal();
      result = { status: 'failed', reply, cause: 'input', stage: 'unknown', reason: reply.message, report: NO_REPORT, detail: describe(error) };
    }
    const event = {
      type: 'mail' as const, session: this.context.id, from: envelope.from, to: envelope.to,
      exitCode: result.report?.exitCode ?? null,
      signal: result.report?.signal ?? null,
      ...(result.report?.output ? { commandOutput: result.report.output } : {}),
    };
    if (result.status !== 'failed') {
      const { reply } = result;
      this.context.emit({
        ...event,
        outcome: result.status,
        bytes: body.bytes,
        ms: Date.now() - started,
        reply: reply.toReply(false).trim(),
        ...(result.status === 'queued' ? { queueId: result.queueId } : {}),
      });
      this.send(reply);
      return;
    }
    const gone = await body.drain();
    // The reply the client gets: the delivery's, or (client gone) the one a half-closed client can still read.
    const reply = !gone ? result.reply
      : this.context.shutdown.aborted ? Replies.shuttingDown()
      : gone.reason === 'timeout' ? Replies.idleTimeout()
      : new SmtpError(451, [4, 3, 0], 'Connection ended before the end of the mail; nothing was delivered');
    this.context.emit({
      ...event,
      outcome: gone ? 'aborted' : reply.temporary ? 'temp-failed' : 'failed',
      bytes: body.bytes,
      ms: Date.now() - started,
      reply: reply.toReply(false).trim(),
      ...(result.detail ? { detail: result.detail } : {}),
    });
    if (gone) throw new SessionEnd(this.context.shutdown.aborted ? 'shutdown' : gone.reason === 'timeout' ? 'idle-timeout' : 'eof', reply);
    this.send(reply);
  }

  private resetTransaction(): void {
    this.from = null;
    this.recipients = [];
  }

  private reply(code: number, enhanced: SmtpError['enhanced'], text: string): void {
    this.pending.push(formatReply(code, this.esmtp ? enhanced : null, [text]));
  }

  private send(reply: SmtpReply | SmtpError): void {
    this.pending.push(reply.toReply(this.esmtp));
  }

  /** A rejected command: its reply, a log event, and the session ends once the client erred too often. */
  private fail(command: string, error: SmtpError): void {
    this.send(error);
    // The command name comes from the client: no control characters into log lines (CR, escape sequences).
    this.context.emit({ type: 'client-error', session: this.context.id, command: printable(command), reply: error.toReply(false).trim() });
    if (error.code >= 500) this.errors += 1;
    if (this.errors >= this.options.maxErrors) throw new SessionEnd('too-many-errors', Replies.tooManyErrors());
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    if (this.output.writable && !this.output.destroyed) this.output.write(text);
  }

  /** Sends a last reply and ends our side; the server destroys the socket if the client lingers. */
  private close(reply: SmtpReply | SmtpError): void {
    this.send(reply);
    this.flush();
    if (this.output.writable) this.output.end();
  }
}

function tlsContext(tls: NonNullable<RelayOptions['tls']>): SecureContext {
  if (tlsContextCache?.key !== tls.key || tlsContextCache.cert !== tls.cert) {
    tlsContextCache = { key: tls.key, cert: tls.cert, context: createSecureContext({ key: tls.key, cert: tls.cert }) };
  }
  return tlsContextCache.context;
}

/**
 * A rejected verb as the log shows it: a word, or a placeholder. Anything else may be a SASL answer that arrived as a
 * command (a client that pipelines AUTH LOGIN, or goes on after a refused AUTH): base64 of the password.
 */
function loggedVerb(verb: string): string {
  return /^[A-Z]{1,10}$/.test(verb) ? verb : '(not a command)';
}

/** The user name a client gave, for the log; never the password, which users type into the user field by mistake. */
function loggedUser(user: string, expected: Credentials): string {
  return user.includes(expected.password) ? '(not shown: it contains the password)' : printable(user);
}

/** For a log line: C0, DEL, C1 and the Unicode line separators become "?". */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, '?').slice(0, 128);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
