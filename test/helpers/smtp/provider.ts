import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

/** A throwaway CA and a certificate it signed for localhost and 127.0.0.1, made with the openssl binary. */
export interface TestCa {
  readonly caPath: string;
  readonly key: string;
  readonly cert: string;
  remove(): void;
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'test-ca-'));
  const run = (args: string[]) => {
    const made = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    if (made.status !== 0) throw new Error(`openssl ${args[0]}: ${made.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-subj', '/CN=msmtp-relay test CA', '-days', '2', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ext.cnf', '-out', 'server.pem']);
  return {
    caPath: join(dir, 'ca.pem'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ProviderMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly user: string;
  readonly raw: Buffer;
}

export interface Provider {
  readonly port: number;
  readonly mails: readonly ProviderMail[];
  /** The logins tried, user and whether the password was right (never the password itself). */
  readonly logins: readonly { user: string; ok: boolean }[];
  close(): Promise<void>;
}

export interface ProviderOptions {
  readonly ca: TestCa;
  /** 'starttls': plain greeting, STARTTLS required before AUTH; 'tls': TLS from the first byte. */
  readonly mode: 'starttls' | 'tls';
  /** The logins it accepts: user → password (a map, so a test can change a password). */
  readonly users: ReadonlyMap<string, string>;
  /** The reply to a wrong login (default 535 5.7.8). */
  readonly refusal?: { code: number; message: string };
  /** Offer only these AUTH methods (default PLAIN LOGIN). */
  readonly authMethods?: string[];
  /** Commands the server does not offer (e.g. ['STARTTLS'], ['AUTH']). */
  readonly disabledCommands?: string[];
}

/** A mail provider on 127.0.0.1: STARTTLS or TLS with the test CA's certificate, AUTH required, mail kept. */
export async function startProvider(options: ProviderOptions): Promise<Provider> {
  const mails: ProviderMail[] = [];
  const logins: { user: string; ok: boolean }[] = [];
  const server = new SMTPServer({
    secure: options.mode === 'tls',
    key: options.ca.key,
    cert: options.ca.cert,
    authMethods: options.authMethods ?? ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    ...(options.disabledCommands ? { disabledCommands: options.disabledCommands } : {}),
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const ok = auth.username !== undefined && options.users.get(auth.username) === auth.password;
      logins.push({ user: auth.username ?? '', ok });
      if (ok) {
        callback(null, { user: auth.username });
        return;
      }
      const refusal = options.refusal ?? { code: 535, message: '5.7.8 Authentication credentials invalid' };
      callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          user: String(session.user ?? ''),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
