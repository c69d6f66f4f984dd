import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { SinkMail } from './smtp-sink';
import { waitUntil } from '../wait';

/**
 * A loopback SMTP server whose answers a test scripts: the mail provider that says 451 or 550 at a chosen stage,
 * never answers, offers STARTTLS with a certificate msmtp does not trust, or rejects a login.
 *
 *   const sink = await startScriptedSink({ answers: { rcpt: '451 4.7.1 Greylisted, try again later' } });
 *   // ... run msmtp against 127.0.0.1:sink.port ...
 *   sink.setScript({});              // the provider recovers: everything is accepted from now on
 *   await sink.waitForMails(1, 5000);
 *   await sink.close();              // the provider goes down: the port is closed, open connections are cut
 *
 * Stages, in dialogue order: greeting, ehlo (EHLO and HELO), starttls, auth, mail, rcpt, data (the DATA command),
 * end-of-data (the final dot). At each one the script may give:
 *   - a reply, one or more full lines joined by '\n' ('451 4.3.0 Try later', '550-No\n550 such user'): sent instead
 *     of the success answer. A 2xx reply to STARTTLS still starts TLS, a 2xx to AUTH logs in, a 3xx to DATA reads
 *     the mail, a 2xx at end-of-data keeps the mail; any other code leaves the dialogue where it was;
 *   - 'hang': answer nothing from then on, keep the connection open (until the client leaves, idleTimeoutMs
 *     passes, or close());
 *   - 'drop': close the connection without a reply.
 * A stage the script does not name succeeds. `rcpt` may instead depend on the address (`rcptAnswer`).
 * With `tls` the sink offers STARTTLS with that key and certificate; with `auth` it offers AUTH PLAIN and LOGIN,
 * answers 535 to other credentials and 530 to MAIL before a login. PIPELINING is not offered, so each stage is
 * one command and one reply.
 *
 * Bounded: at most maxConnections at once, lines of at most 64 KiB (longer: the connection is cut), mails of at most
 * maxMessageBytes (longer: 552 after the dot), and a connection silent for idleTimeoutMs is cut.
 */
export type SinkStage = 'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'end-of-data';
/** A reply line to send, or 'hang' (never answer) or 'drop' (close the connection). */
export type StageAnswer = string;

export interface SinkScript {
  readonly answers?: Readonly<Partial<Record<SinkStage, StageAnswer>>>;
  /** The answer to RCPT for one address; undefined falls back to answers.rcpt, then to 250. */
  readonly rcptAnswer?: (address: string) => StageAnswer | undefined;
  /** Offer STARTTLS with this key and certificate (PEM). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Require a login with these credentials before MAIL. */
  readonly auth?: { readonly user: string; readonly password: string };
}

export interface ScriptedSinkOptions {
  /** Listen on this port of 127.0.0.1 (to come back where a test's msmtprc points); 0 or absent: any free port. */
  readonly port?: number;
  readonly maxConnections?: number;
  readonly idleTimeoutMs?: number;
  readonly maxMessageBytes?: number;
}

export interface ScriptedSink {
  readonly port: number;
  /** Mails the sink kept (answered 2xx after the dot), in order. */
  readonly mails: readonly SinkMail[];
  /** Every command line received, in order, across connections; AUTH credentials are shown as '***'. */
  readonly commands: readonly string[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Replaces the script for connections and stages from now on. */
  setScript(script: SinkScript): void;
  /** Resolves once at least n mails were kept; rejects after timeoutMs, naming what arrived. */
  waitForMails(n: number, timeoutMs: number): Promise<readonly SinkMail[]>;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

const HOSTNAME = 'scripted-sink.test';
const MAX_LINE_BYTES = 64 * 1024;
const LINE = /^[2-5]\d\d([ -]|$)/;

export async function startScriptedSink(script: SinkScript = {}, options: ScriptedSinkOptions = {}): Promise<ScriptedSink> {
  checkScript(script);
  const state: SinkState = {
    script,
    secureContext: script.tls ? createSecureContext({ key: script.tls.key, cert: script.tls.cert }) : null,
    mails: [],
    commands: [],
    connections: 0,
    maxMessageBytes: options.maxMessageBytes ?? 10 * 1024 * 1024,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new SinkConnection(socket, state);
  });
  server.maxConnections = options.maxConnections ?? 16;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('scripted sink: no TCP address');

  return {
    port: address.port,
    mails: state.mails,
    commands: state.commands,
    get connections() {
      return state.connections;
    },
    setScript(next) {
      checkScript(next);
      state.script = next;
      state.secureContext = next.tls ? createSecureContext({ key: next.tls.key, cert: next.tls.cert }) : null;
    },
    waitForMails(n, timeoutMs) {
      return waitUntil(() => (state.mails.length >= n ? state.mails : null), timeoutMs,
        () => `${n} mail(s) at the scripted sink; got ${state.mails.length}, commands: ${state.commands.join(' | ')}`);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

function checkScript(script: SinkScript): void {
  for (const [stage, answer] of Object.entries(script.answers ?? {})) {
    if (answer === 'hang' || answer === 'drop') continue;
    if (typeof answer !== 'string' || !answer.split('\n').every((line) => LINE.test(line))) {
      throw new Error(`scripted sink: the answer for ${stage} is not SMTP reply lines: ${JSON.stringify(answer)}`);
    }
  }
}

interface SinkState {
  script: SinkScript;
  secureContext: SecureContext | null;
  readonly mails: SinkMail[];
  readonly commands: string[];
  connections: number;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
}

type Mode = 'command' | 'data' | 'auth-plain' | 'auth-login-user' | 'auth-login-password' | 'silent';

class SinkConnection {
  private stream: Socket;
  private buffered = Buffer.alloc(0);
  private mode: Mode = 'command';
  private secure = false;
  private loggedIn = false;
  private helo = '';
  private from: string | null = null;
  private to: string[] = [];
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private loginUser = '';

  constructor(socket: Socket, private readonly state: SinkState) {
    this.stream = socket;
    this.listen(socket);
    socket.setTimeout(state.idleTimeoutMs, () => socket.destroy());
    this.answer('greeting', `220 ${HOSTNAME} ESMTP scripted sink`);
  }

  /** A method, not a comparison, so the compiler does not assume line() left the mode unchanged. */
  private silent(): boolean {
    return this.mode === 'silent';
  }

  private get script(): SinkScript {
    return this.state.script;
  }

  private listen(stream: Socket): void {
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('error', () => stream.destroy()); // a client that gives up mid-handshake is not the test's failure
  }

  private receive(chunk: Buffer): void {
    if (this.mode === 'silent') return;
    this.buffered = Buffer.concat([this.buffered, chunk]);
    let end: number;
    while (!this.silent() && (end = this.buffered.indexOf(0x0a)) >= 0) {
      const line = this.buffered.subarray(0, end).toString('latin1').replace(/\r$/, '');
      this.buffered = this.buffered.subarray(end + 1);
      this.line(line);
    }
    if (this.buffered.length > MAX_LINE_BYTES) this.stream.destroy();
  }

  /** Sends the scripted answer for the stage, or the success reply; returns the reply sent, or null for none. */
  private answer(stage: SinkStage, success: string, scripted = this.script.answers?.[stage]): string | null {
    const reply = scripted ?? success;
    if (reply === 'hang') {
      this.mode = 'silent';
      return null;
    }
    if (reply === 'drop') {
      this.mode = 'silent';
      this.stream.destroy();
      return null;
    }
    this.send(reply);
    return reply;
  }

  private send(reply: string): void {
    if (!this.stream.destroyed) this.stream.write(reply.split('\n').map((line) => `${line}\r\n`).join(''));
  }

  private line(line: string): void {
    switch (this.mode) {
      case 'data':
        return this.dataLine(line);
      case 'auth-plain':
        this.state.commands.push('***');
        return this.login(plainCredentials(line));
      case 'auth-login-user':
        this.state.commands.push('***');
        this.loginUser = decodeBase64(line);
        this.mode = 'auth-login-password';
        return this.send('334 UGFzc3dvcmQ6');
      case 'auth-login-password':
        this.state.commands.push('***');
        return this.login({ user: this.loginUser, password: decodeBase64(line) });
      default:
        return this.command(line);
    }
  }

  private command(line: string): void {
    const verb = (/^\S*/.exec(line)?.[0] ?? '').toUpperCase();
    const argument = line.slice(verb.length).trim();
    this.state.commands.push(verb === 'AUTH' ? line.split(' ').slice(0, 2).join(' ') + (argument.includes(' ') ? ' ***' : '') : line);
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        this.helo = argument;
        this.reset();
        this.answer('ehlo', verb === 'EHLO' ? this.capabilities() : `250 ${HOSTNAME}`);
        return;
      case 'STARTTLS':
        return this.startTls();
      case 'AUTH':
        return this.auth(argument);
      case 'MAIL':
        if (this.script.auth && !this.loggedIn) return this.send('530 5.7.0 Authentication required');
        if (this.answer('mail', '250 2.1.0 Sender ok')?.startsWith('2')) this.from = address(argument);
        return;
      case 'RCPT': {
        if (this.from === null) return this.send('503 5.5.1 MAIL first');
        const recipient = address(argument);
        const scripted = this.script.rcptAnswer?.(recipient) ?? this.script.answers?.rcpt;
        if (this.answer('rcpt', '250 2.1.5 Recipient ok', scripted)?.startsWith('2')) this.to.push(recipient);
        return;
      }
      case 'DATA':
        if (this.to.length === 0) return this.send('503 5.5.1 RCPT first');
        if (this.answer('data', '354 End data with <CR><LF>.<CR><LF>')?.startsWith('3')) this.mode = 'data';
        return;
      case 'RSET':
        this.reset();
        return this.send('250 2.0.0 Ok');
      case 'NOOP':
        return this.send('250 2.0.0 Ok');
      case 'QUIT':
        this.send(`221 2.0.0 ${HOSTNAME} closing`);
        this.mode = 'silent';
        this.stream.end();
        return;
      default:
        return this.send('500 5.5.2 Command not recognised');
    }
  }

  private capabilities(): string {
    const lines = [HOSTNAME, `SIZE ${this.state.maxMessageBytes}`, '8BITMIME'];
    if (this.state.secureContext && !this.secure) lines.push('STARTTLS');
    if (this.script.auth) lines.push('AUTH PLAIN LOGIN');
    lines.push('HELP');
    return lines.map((text, i) => `250${i === lines.length - 1 ? ' ' : '-'}${text}`).join('\n');
  }

  private startTls(): void {
    const context = this.state.secureContext;
    if (!context || this.secure) return void this.send('502 5.5.1 STARTTLS not offered');
    if (!this.answer('starttls', '220 2.0.0 Ready to start TLS')?.startsWith('2')) return;
    const plain = this.stream;
    plain.removeAllListeners('data');
    this.buffered = Buffer.alloc(0);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.stream = secure;
    this.secure = true;
    this.helo = '';
    this.reset();
    this.listen(secure);
  }

  private auth(argument: string): void {
    if (!this.script.auth) return this.send('502 5.5.1 AUTH not offered');
    const [mechanism = '', initial] = argument.split(/\s+/);
    const scripted = this.script.answers?.auth;
    if (scripted !== undefined) {
      this.answer('auth', '', scripted);
      if (typeof scripted === 'string' && scripted.startsWith('2')) this.loggedIn = true;
      return;
    }
    switch (mechanism.toUpperCase()) {
      case 'PLAIN':
        if (initial !== undefined) return this.login(plainCredentials(initial));
        this.mode = 'auth-plain';
        return this.send('334 ');
      case 'LOGIN':
        if (initial !== undefined) {
          this.loginUser = decodeBase64(initial);
          this.mode = 'auth-login-password';
          return this.send('334 UGFzc3dvcmQ6');
        }
        this.mode = 'auth-login-user';
        return this.send('334 VXNlcm5hbWU6');
      default:
        return this.send('504 5.5.4 Unrecognized authentication type');
    }
  }

  private login(credentials: { user: string; password: string }): void {
    this.mode = 'command';
    const expected = this.script.auth;
    if (expected && credentials.user === expected.user && credentials.password === expected.password) {
      this.loggedIn = true;
      return this.send('235 2.7.0 Authentication successful');
    }
    this.send('535 5.7.8 Authentication credentials invalid');
  }

  private dataLine(line: string): void {
    if (line !== '.') {
      const text = Buffer.from(`${line.startsWith('.') ? line.slice(1) : line}\r\n`, 'latin1');
      this.bodyBytes += text.length;
      if (this.bodyBytes <= this.state.maxMessageBytes) this.body.push(text);
      return;
    }
    this.mode = 'command';
    if (this.bodyBytes > this.state.maxMessageBytes) {
      this.send('552 5.3.4 Message too big');
    } else {
      const id = this.state.mails.length + 1;
      const reply = this.answer('end-of-data', `250 2.0.0 Ok: queued as ${id}`);
      if (reply?.startsWith('2')) {
        this.state.mails.push({ from: this.from ?? '', to: [...this.to], helo: this.helo, raw: Buffer.concat(this.body) });
      }
    }
    this.reset();
  }

  private reset(): void {
    this.from = null;
    this.to = [];
    this.body = [];
    this.bodyBytes = 0;
  }
}

/** The address inside 'FROM:<a@b> SIZE=1' or 'TO:<a@b>'. */
function address(argument: string): string {
  return /<([^>]*)>/.exec(argument)?.[1] ?? argument.replace(/^(FROM|TO):/i, '').trim();
}

function decodeBase64(text: string): string {
  return Buffer.from(text.trim(), 'base64').toString('utf8');
}

/** SASL PLAIN: authzid NUL authcid NUL password. */
function plainCredentials(initial: string): { user: string; password: string } {
  const [, user = '', password = ''] = decodeBase64(initial).split('\0');
  return { user, password };
}
