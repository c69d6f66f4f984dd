import { readFile } from 'node:fs/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { AccountSettings } from './account-settings';
import { ReplyError, ReplyReader, replyText, type Reply } from './smtp-replies';

/** Why the provider's server did not accept the login, in the user's terms. */
export type LoginCause =
  | 'wrong-password' | 'app-password-required' | 'basic-auth-disabled' | 'login-deferred'
  | 'certificate-not-trusted' | 'fingerprint-mismatch' | 'trust-file-unreadable'
  | 'host-not-found' | 'connection-refused' | 'nothing-answers' | 'connection-lost'
  | 'tls-on-starttls-port' | 'starttls-on-tls-port' | 'no-starttls'
  | 'no-login-offered' | 'no-usable-login-method' | 'server-refused' | 'not-smtp';

export type LoginCheck =
  | { readonly ok: true; readonly mechanism: 'PLAIN' | 'LOGIN' }
  | { readonly ok: false; readonly cause: LoginCause; readonly message: string; readonly serverReply?: string };

export interface VerifyOptions {
  /** Each step's deadline: connecting, the TLS handshake, each reply (default 15 s). */
  readonly timeoutMs?: number;
  /** The name sent with EHLO (default: localhost). */
  readonly ehloName?: string;
}

const MESSAGES: Readonly<Record<LoginCause, string>> = {
  'wrong-password': 'The server refused the user name or password.',
  'app-password-required': 'This provider wants an app password here, not your account password (create one in your account\'s security settings).',
  'basic-auth-disabled': 'The provider has turned off password logins (basic authentication) for this mailbox; an administrator must allow SMTP AUTH, or the account needs OAuth.',
  'login-deferred': 'The server could not check the login just now; try again in a few minutes.',
  'certificate-not-trusted': 'The server\'s TLS certificate is not trusted (wrong host name, or a certificate that needs its own trust file).',
  'fingerprint-mismatch': 'The server\'s certificate does not have the pinned fingerprint.',
  'trust-file-unreadable': 'The trust file cannot be read.',
  'host-not-found': 'The server name does not exist (or this computer is offline).',
  'connection-refused': 'Nothing listens on that port of the server (connection refused).',
  'nothing-answers': 'Nothing answers on that port: the server is down, or a firewall blocks the port.',
  'connection-lost': 'The server closed the connection in the middle of the login.',
  'tls-on-starttls-port': 'This port speaks plain SMTP first: choose STARTTLS (usually port 587), not TLS.',
  'starttls-on-tls-port': 'This port expects TLS from the first byte: choose TLS (usually port 465), not STARTTLS.',
  'no-starttls': 'The server offers no STARTTLS on this port; msmtp would not send the password without TLS.',
  'no-login-offered': 'The server offers no login (AUTH) on this port.',
  'no-usable-login-method': 'The server offers no password login msmtp Relay can check (PLAIN or LOGIN).',
  'server-refused': 'The server refused the session.',
  'not-smtp': 'What answers on that port is not a mail server (SMTP).',
};

/**
 * Logs in to the provider's server the way msmtp will, and sends no mail: greeting, EHLO, STARTTLS (or TLS from the
 * start), EHLO, AUTH PLAIN (LOGIN when only that is offered), QUIT. The certificate is checked against the system's
 * CAs (Node's bundle), or the trust file, or only the pinned fingerprint, as msmtp does with tls_fingerprint.
 */
export async function verifyLogin(settings: AccountSettings, password: string, options: VerifyOptions = {}): Promise<LoginCheck> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  let trust: TrustOptions;
  try {
    trust = await trustOptions(settings);
  } catch (error) {
    return refused('trust-file-unreadable', `${MESSAGES['trust-file-unreadable']} (${(error as Error).message})`);
  }
  const session = new Session(settings, password, trust, timeoutMs, options.ehloName ?? 'localhost');
  try {
    return await session.run();
  } finally {
    session.close();
  }
}

function refused(cause: LoginCause, message = MESSAGES[cause], reply?: Reply): LoginCheck {
  return reply ? { ok: false, cause, message, serverReply: replyText(reply) } : { ok: false, cause, message };
}

type TrustOptions = Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized'> & {
  /** The certificate's SHA-256 fingerprint, upper case with colons, checked after the handshake. */
  readonly pin?: string;
};

async function trustOptions(settings: AccountSettings): Promise<TrustOptions> {
  const pin = settings.tlsFingerprint?.toUpperCase();
  if (pin) {
    // msmtp with tls_fingerprint trusts that certificate alone, whoever signed it.
    return { rejectUnauthorized: false, pin };
  }
  if (settings.tlsTrustFile === undefined || settings.tlsTrustFile === 'system') return {};
  return { ca: await readFile(settings.tlsTrustFile, 'utf8') };
}

/** Thrown inside a session to end it with a result. */
class Ended extends Error {
  constructor(readonly result: LoginCheck) {
    super('ended');
  }
}

class Session {
  private socket: Socket | null = null;
  private reader: ReplyReader | null = null;

  constructor(private readonly settings: AccountSettings, private readonly password: string,
    private readonly trust: TrustOptions, private readonly timeoutMs: number, private readonly ehloName: string) {}

  async run(): Promise<LoginCheck> {
    try {
      if (this.settings.tls === 'tls') {
        this.attach(await this.connectTls(null));
        await this.greeting();
      } else {
        this.attach(await this.connectPlain());
        await this.greetingOrTlsPort();
        await this.startTls();
      }
      const capabilities = await this.ehlo();
      const result = await this.login(capabilities);
      await this.quit();
      return result;
    } catch (error) {
      if (error instanceof Ended) return error.result;
      throw error;
    }
  }

  close(): void {
    this.socket?.destroy();
  }

  private connectPlain(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: this.settings.host, port: this.settings.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Ended(refused('nothing-answers')));
      }, this.timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
      socket.once('error', (error: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new Ended(connectFailure(error))); });
      this.socket = socket;
    });
  }

  /** TLS from the first byte (over a new connection), or over `plain` after STARTTLS. */
  private connectTls(plain: Socket | null): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const host = this.settings.host;
      const { pin, ...trust } = this.trust;
      const socket = tlsConnect({
        ...(plain ? { socket: plain } : { host, port: this.settings.port }),
        ...(isIP(host) ? {} : { servername: host }),
        ...trust,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Ended(refused(plain ? 'connection-lost' : 'nothing-answers')));
      }, this.timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        if (pin !== undefined && socket.getPeerCertificate().fingerprint256?.toUpperCase() !== pin) {
          socket.destroy();
          reject(new Ended(refused('fingerprint-mismatch')));
          return;
        }
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => { clearTimeout(timer); reject(new Ended(tlsFailure(error, plain === null))); });
      this.socket = socket;
    });
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    this.reader = new ReplyReader(socket, this.timeoutMs);
  }

  private async read(): Promise<Reply> {
    try {
      return await this.reader!.next();
    } catch (error) {
      if (!(error instanceof ReplyError)) throw error;
      if (error.kind === 'garbage') throw new Ended(refused('not-smtp'));
      if (error.kind === 'timeout') throw new Ended(refused('nothing-answers'));
      throw new Ended(refused('connection-lost'));
    }
  }

  private async send(line: string): Promise<Reply> {
    this.socket!.write(`${line}\r\n`);
    return this.read();
  }

  private async greeting(): Promise<void> {
    const reply = await this.read();
    if (reply.code !== 220) throw new Ended(refused('server-refused', undefined, reply));
  }

  /** A STARTTLS port greets at once; a TLS port says nothing and waits for a TLS handshake: tell the two apart. */
  private async greetingOrTlsPort(): Promise<void> {
    try {
      await this.greeting();
    } catch (error) {
      if (!(error instanceof Ended) || error.result.ok || error.result.cause !== 'nothing-answers') throw error;
      this.socket?.destroy();
      const tls = await this.connectTls(null).catch(() => null);
      tls?.destroy();
      throw new Ended(refused(tls ? 'starttls-on-tls-port' : 'nothing-answers'));
    }
  }

  private async startTls(): Promise<void> {
    const capabilities = await this.ehlo();
    if (!capabilities.some((line) => /^STARTTLS\b/i.test(line))) throw new Ended(refused('no-starttls'));
    const reply = await this.send('STARTTLS');
    if (reply.code !== 220) throw new Ended(refused(reply.code < 500 ? 'login-deferred' : 'server-refused', undefined, reply));
    const plain = this.socket!;
    this.reader!.detach();
    this.attach(await this.connectTls(plain));
  }

  private async ehlo(): Promise<readonly string[]> {
    const reply = await this.send(`EHLO ${this.ehloName}`);
    if (reply.code !== 250) throw new Ended(refused('server-refused', undefined, reply));
    return reply.lines.slice(1);
  }

  private async login(capabilities: readonly string[]): Promise<LoginCheck> {
    const auth = capabilities.find((line) => /^AUTH[ =]/i.test(line));
    if (!auth) return refused('no-login-offered');
    const mechanisms = auth.slice(5).toUpperCase().split(/\s+/);
    if (mechanisms.includes('PLAIN')) {
      const token = Buffer.from(`\0${this.settings.user}\0${this.password}`, 'utf8').toString('base64');
      return this.judge(await this.send(`AUTH PLAIN ${token}`), 'PLAIN');
    }
    if (mechanisms.includes('LOGIN')) {
      let reply = await this.send('AUTH LOGIN');
      if (reply.code === 334) reply = await this.send(Buffer.from(this.settings.user, 'utf8').toString('base64'));
      if (reply.code === 334) reply = await this.send(Buffer.from(this.password, 'utf8').toString('base64'));
      return this.judge(reply, 'LOGIN');
    }
    return refused('no-usable-login-method');
  }

  private judge(reply: Reply, mechanism: 'PLAIN' | 'LOGIN'): LoginCheck {
    if (reply.code === 235) return { ok: true, mechanism };
    const text = replyText(reply);
    if (/\b5\.7\.139\b/.test(text)) return refused('basic-auth-disabled', undefined, reply);
    if (reply.code === 534 && /\b5\.7\.(9|14)\b/.test(text)) return refused('app-password-required', undefined, reply);
    if (reply.code >= 400 && reply.code < 500) return refused('login-deferred', undefined, reply);
    return refused('wrong-password', undefined, reply);
  }

  private async quit(): Promise<void> {
    try {
      await this.send('QUIT');
    } catch {
      // The login was judged already; a server that drops the connection at QUIT changes nothing.
    }
  }
}

function connectFailure(error: NodeJS.ErrnoException): LoginCheck {
  switch (error.code) {
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NONAME': return refused('host-not-found');
    case 'ECONNREFUSED': return refused('connection-refused');
    case 'ETIMEDOUT': case 'EHOSTUNREACH': case 'ENETUNREACH': return refused('nothing-answers');
    default: return refused('connection-lost', `${MESSAGES['connection-lost']} (${error.message})`);
  }
}

const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED', 'CERT_REVOKED', 'INVALID_CA',
]);

function tlsFailure(error: NodeJS.ErrnoException, fromFirstByte: boolean): LoginCheck {
  if (error.code === 'FINGERPRINT_MISMATCH') return refused('fingerprint-mismatch');
  if (error.code && CERTIFICATE_CODES.has(error.code)) return refused('certificate-not-trusted', `${MESSAGES['certificate-not-trusted']} (${error.message})`);
  // A plain SMTP greeting read as a TLS record: OpenSSL's "wrong version number" (or "packet length too long").
  if (fromFirstByte && /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|HTTP_REQUEST/i.test(`${error.code} ${error.message}`)) {
    return refused('tls-on-starttls-port');
  }
  return connectFailure(error);
}
