import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMsmtp, type MsmtpRunOptions } from './msmtp-run';

export type ProbeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'no-password' | 'other-password' | 'other-user' | 'msmtp-failed'; readonly message: string };

/**
 * Proves that msmtp itself will log in with the typed password, with no mail sent and nothing sent to the provider:
 * msmtp runs as the relay runs it (the user's file, the account it picks for ADDRESS) but with --socket pointing at
 * a private Unix socket of ours, plain text and AUTH PLAIN forced on the command line. msmtp still looks up the
 * password for the account's real host (src/msmtp.c passes acc->host to the lookup), so when our listener receives
 * the typed user and password, msmtp found them in the key ring by itself. The listener then refuses MAIL FROM.
 * The password is compared by hash and never kept or logged. POSIX only (msmtp has no key ring on Windows).
 */
export async function probeMsmtpLogin(address: string, user: string, password: string,
  options: MsmtpRunOptions = {}): Promise<ProbeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'msmtp-relay-probe-')); // 0700: nobody else can reach the socket
  const path = join(dir, 's');
  const seen: { auth?: { user: boolean; password: boolean } } = {};
  const server = createServer((socket) => serve(socket, user, password, seen));
  try {
    await listen(server, path);
    const ran = await runMsmtp(['-f', address, `--socket=${path}`, '--tls=off', '--auth=plain', '--timeout=10',
      '--', 'login-check@msmtp-relay.invalid'], { ...options, input: 'Subject: msmtp Relay login check\n\nNothing is sent.\n' });
    if (seen.auth?.user && seen.auth.password) return { ok: true };
    if (seen.auth && !seen.auth.user) return { ok: false, reason: 'other-user', message: 'msmtp logs in with another user name than the account\'s' };
    if (seen.auth) return { ok: false, reason: 'other-password', message: 'msmtp found another password than the one typed (a password or passwordeval line, or another key ring item)' };
    const said = ran.stderr.split('\n').map((line) => line.trim()).filter(Boolean);
    if (said.some((line) => /needs a password/.test(line))) {
      return { ok: false, reason: 'no-password', message: 'msmtp does not find the password in the key ring' };
    }
    return { ok: false, reason: 'msmtp-failed', message: said.join('; ') || `msmtp exited ${ran.code}` };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** The smallest SMTP server msmtp completes a login with: EHLO, AUTH PLAIN, then MAIL FROM is refused. */
function serve(socket: Socket, user: string, password: string, seen: { auth?: { user: boolean; password: boolean } }): void {
  let buffer = '';
  let awaitingPlain = false;
  const reply = (text: string) => socket.write(`${text}\r\n`);
  const checkPlain = (token: string) => {
    const parts = Buffer.from(token, 'base64').toString('utf8').split('\0');
    seen.auth = { user: same(parts[1] ?? '', user), password: same(parts.slice(2).join('\0'), password) };
    reply(seen.auth.user && seen.auth.password ? '235 2.7.0 Login checked' : '535 5.7.8 Not the typed login');
  };
  socket.setTimeout(15_000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (awaitingPlain) {
        awaitingPlain = false;
        checkPlain(line);
        continue;
      }
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'EHLO') reply('250-msmtp-relay-login-check\r\n250 AUTH PLAIN');
      else if (verb === 'HELO') reply('250 msmtp-relay-login-check');
      else if (verb === 'AUTH' && /^AUTH PLAIN \S+$/i.test(line)) checkPlain(line.split(' ')[2]!);
      else if (verb === 'AUTH' && /^AUTH PLAIN$/i.test(line)) { awaitingPlain = true; reply('334 '); }
      else if (verb === 'MAIL') reply('550 5.7.0 msmtp Relay login check: nothing is sent');
      else if (verb === 'QUIT') { reply('221 2.0.0 Bye'); socket.end(); }
      else if (verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 OK');
      else reply('502 5.5.1 Not here');
    }
  });
  reply('220 msmtp-relay-login-check ESMTP');
}
