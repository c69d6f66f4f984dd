import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../helpers/ports';
import {
  assertOneErrorLine, CliProcess, cliPath, commandString, readText,  runCli, waitForLogLine,
} from '../../helpers/relay/cli-process';
import { REPO_ROOT } from '../../helpers/paths';
import { waitUntil } from '../../helpers/wait';
import { readRecordings, recordCommand } from '../../helpers/relay/relay-harness';
import { sendMail } from '../../helpers/smtp/mail';
import { connectSmtp, type SmtpTestClient } from '../../helpers/smtp/smtp-client';

const packageVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** A delivery command that swallows the mail (recipients are appended, so not plain `cat`). */
const SWALLOW = "--command=sh -c 'cat >/dev/null' sh";
const LOG_LINE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) msmtp-relay\[(\d+)\] (info|error): (.+)$/;

let tmp: string;
const cleanups: (() => void)[] = [];
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'msmtp-relay-cli-'));
});
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Starts a CLI that is killed at the end of the file whatever happens. */
function startCli(args: string[], env?: NodeJS.ProcessEnv, keepStdinOpen = false): CliProcess {
  const cli = CliProcess.start(args, { ...(env ? { env } : {}), keepStdinOpen });
  cleanups.push(() => cli.kill());
  return cli;
}

/** Without a log to watch, retries until the relay listens (bounded: 100 tries, 5 s). */
async function connectWhenListening(port: number): Promise<SmtpTestClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectSmtp(port);
    } catch (error) {
      if (attempt >= 100 || (error as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw error;
      await new Promise((done) => setTimeout(done, 50));
    }
  }
}

function plain(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/** Parses a raw reply stream (what an inetd client read) into reply codes, one per complete reply. */
function replyCodes(raw: string): number[] {
  return raw
    .split('\r\n')
    .filter((line) => /^\d{3} /.test(line))
    .map((line) => Number(line.slice(0, 3)));
}

describe('msmtp-relay --version and --help', () => {
  test('--version prints the package version and says it is msmtpd-compatible', async () => {
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    const [first, second] = result.stdout.split('\n');
    assert.equal(first, `msmtp-relay version ${packageVersion}`);
    assert.match(second!, /msmtpd/);
    assert.equal(result.stderr, '');
  });

  test('--help lists every msmtpd option and exits 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const option of ['--version', '--help', '--inetd', '--interface=ip', '--port=number', '--log=none|syslog|FILE',
      '--command=cmd', '--auth=user[,passwordeval]', '--max-sessions', '--tls-cert']) {
      assert.ok(result.stdout.includes(option), `--help mentions ${option}`);
    }
  });

  test("msmtpd's order: a parse error beats --help, --version beats --help", async () => {
    const parseError = await runCli(['--help', '--bogus']);
    assert.equal(parseError.code, 3);
    assert.equal(assertOneErrorLine(parseError.stderr), "msmtp-relay: unrecognized option '--bogus'");
    assert.equal(parseError.stdout, '');
    const version = await runCli(['--help', '--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^msmtp-relay version /);
  });
});

describe('bad options: one line on stderr, exit 3, nothing started', { concurrency: 4 }, () => {
  let occupied: Server;
  let occupiedPort = 0;
  before(async () => {
    occupied = createServer();
    await new Promise<void>((done) => occupied.listen(0, '127.0.0.1', () => done()));
    occupiedPort = (occupied.address() as { port: number }).port;
  });
  after(() => occupied.close());

  const cases: [string, () => string[], RegExp | (() => RegExp)][] = [
    ['port abc (msmtpd binds a random port)', () => ['--port=abc'], /^msmtp-relay: invalid port 'abc'/],
    ['port 70000 (msmtpd takes it modulo 65536)', () => ['--port=70000'], /^msmtp-relay: invalid port '70000'/],
    ['port -1 (msmtpd binds 65535)', () => ['--port', '-1'], /^msmtp-relay: invalid port '-1'/],
    ['port 0', () => ['--port=0'], /^msmtp-relay: invalid port '0'/],
    ['an unknown option', () => ['--bogus'], /^msmtp-relay: unrecognized option '--bogus'$/],
    ['an ambiguous prefix', () => ['--max=3'], /^msmtp-relay: option '--max' is ambiguous; possibilities: /],
    ['a positional argument', () => ['extra'], /^msmtp-relay: too many arguments$/],
    ['an empty value', () => ['--log='], /^msmtp-relay: option '--log' requires non-empty argument$/],
    ['a missing value', () => ['--port'], /^msmtp-relay: option '--port' requires an argument$/],
    ['a value on a flag', () => ['--inetd=yes'], /^msmtp-relay: option '--inetd' doesn't allow an argument$/],
    ['a short option', () => ['-p', '25'], /^msmtp-relay: invalid option -- 'p'$/],
    ['a host name as interface', () => ['--interface=mail.example'], /^msmtp-relay: invalid interface 'mail\.example' \(localhost, or a numeric/],
    ['an address that is not local', () => ['--interface=192.0.2.1', `--port=${occupiedPort}`, '--command=cat'],
      () => new RegExp(`^msmtp-relay: cannot bind to 192\\.0\\.2\\.1:${occupiedPort}: Cannot assign requested address`)],
    ['a port in use', () => [`--port=${occupiedPort}`, '--command=cat'],
      () => new RegExp(`^msmtp-relay: cannot bind to 127\\.0\\.0\\.1:${occupiedPort}: Address already in use$`)],
    ['an unwritable log path', () => ['--log=/nonexistent/dir/log', '--command=cat'],
      /^msmtp-relay: cannot open log file \/nonexistent\/dir\/log: ENOENT: no such file or directory$/],
    ['a command with a shell operator', () => ['--command=msmtp -t | tee x'], /^msmtp-relay: invalid --command: shell operator '\|'/],
    ['a command that does not exist', () => ['--command=no-such-mailer -f %F --'], /^msmtp-relay: cannot find the delivery command 'no-such-mailer' in PATH/],
    ['an empty --auth user', () => ['--auth=,echo pw'], /^msmtp-relay: invalid --auth: empty user name$/],
    ['--tls-cert without --tls-key', () => ['--tls-cert=/etc/hostname'], /^msmtp-relay: --tls-cert and --tls-key must be given together$/],
    ['an unreadable TLS key', () => ['--tls-cert=/nonexistent.pem', '--tls-key=/nonexistent.key', '--command=cat', '--port=2'],
      /^msmtp-relay: cannot read TLS certificate \/nonexistent\.pem: ENOENT$/],
    ['a zero session limit', () => ['--max-sessions=0'], /^msmtp-relay: invalid --max-sessions '0'/],
    ['a bad size', () => ['--max-message-size=lots'], /^msmtp-relay: invalid --max-message-size 'lots'/],
  ];

  for (const [name, args, expected] of cases) {
    test(name, async () => {
      const result = await runCli(args(), { timeoutMs: 5000 });
      assert.equal(result.code, 3, `exit status for ${args().join(' ')}; stderr ${result.stderr}`);
      assert.match(assertOneErrorLine(result.stderr), typeof expected === 'function' ? expected() : expected);
      assert.equal(result.stdout, '');
    });
  }
});

describe('daemon mode', () => {
  test('prefix --por=, "--opt value" form, a whole mail, and log lines written as they happen', async () => {
    const port = await freePort();
    const dir = freshDir('daemon');
    const log = join(dir, 'relay.log');
    const records = freshDir('daemon-records');
    const cli = startCli([`--por=${port}`, '--log', log, '--command', commandString(recordCommand(records))]);
    await waitForLogLine(log, new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));

    const client = await connectSmtp(port);
    cleanups.push(() => client.destroy());
    // msmtpd wrote its log only when a session ended; these lines must be there while the session is open.
    await waitForLogLine(log, /connection from 127\.0\.0\.1, active sessions 1/);
    const ehlo = await client.command('EHLO cli.test');
    assert.equal(ehlo.code, 250);
    assert.ok(!ehlo.lines.includes('STARTTLS') && !ehlo.lines.some((line) => line.startsWith('AUTH')), 'no TLS, no AUTH unless asked');
    const code = (await sendMail(client, 'sender@example.org', ['rcpt@example.net'], 'Subject: cli test\r\n\r\nHello over the CLI.')).final?.code;
    assert.equal(code, 250);
    await waitForLogLine(log, /mail from sender@example\.org to rcpt@example\.net \(\d+ bytes, \d+ ms\): delivered; exit 0; 250/);
    assert.doesNotMatch(readText(log), /connection closed/, 'the session is still open');
    assert.equal((await client.command('QUIT')).code, 221);

    const [recording, ...more] = readRecordings(records);
    assert.equal(more.length, 0);
    assert.deepEqual(recording!.argv, ['-f', 'sender@example.org', '--', 'rcpt@example.net']);
    assert.match(recording!.stdin.toString(), /^Received: from cli\.test /);
    assert.ok(recording!.stdin.toString().endsWith('Subject: cli test\n\nHello over the CLI.\n'));

    await waitForLogLine(log, /connection closed \(quit\)/);
    const result = await cli.stop('SIGTERM');
    assert.equal(result.code, 0);
    const lines = readText(log).trimEnd().split('\n');
    for (const line of lines) {
      const match = LOG_LINE.exec(line);
      assert.ok(match, `msmtpd's log format: ${line}`);
      assert.equal(Number(match[7]), cli.pid);
      const [, y, mo, d, h, mi, s] = match.map(Number);
      const stamp = new Date(y!, mo! - 1, d, h, mi, s).getTime(); // local time, as msmtpd
      assert.ok(Math.abs(Date.now() - stamp) < 60_000, `timestamp is local time now: ${line}`);
    }
    assert.match(lines.at(-1)!, /stopped after 1 sessions .*1 mails delivered/);
    assert.ok(lines.some((line) => /info: relay stopped$/.test(line)));
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, '');
  });

  test('--auth=user,passwordeval: the last --auth wins, AUTH works, a wrong password gets 535, no password in the log', async () => {
    const port = await freePort();
    const dir = freshDir('auth');
    const log = join(dir, 'relay.log');
    const secret = 'S3cret-Pw';
    const cli = startCli([
      `--port=${port}`, `--log=${log}`, '--command=cat',
      '--auth=someone-else,echo other-pw',
      // the first line, without its CR LF; the exit status is ignored (msmtpd)
      `--auth=relay-user,printf '${secret}\\r\\nsecond line\\n'; exit 3`,
    ]);
    await waitForLogLine(log, /listening on/);
    assert.match(readText(log), /auth required for user relay-user \(password from passwordeval\)/);

    const good = await connectSmtp(port);
    cleanups.push(() => good.destroy());
    const ehlo = await good.command('EHLO auth.test');
    assert.ok(ehlo.lines.includes('AUTH PLAIN LOGIN'), ehlo.raw);
    assert.equal((await good.command('MAIL FROM:<a@example.org>')).code, 530);
    assert.equal((await good.command(`AUTH PLAIN ${plain('relay-user', secret)}`)).code, 235);
    assert.equal((await good.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await good.command('QUIT')).code, 221);

    const bad = await connectSmtp(port);
    cleanups.push(() => bad.destroy());
    await bad.command('EHLO auth.test');
    assert.equal((await bad.command(`AUTH PLAIN ${plain('someone-else', 'other-pw')}`)).code, 535, 'the first --auth was replaced');
    assert.equal((await bad.command(`AUTH PLAIN ${plain('relay-user', `${secret}\r`)}`, 5000)).code, 535);
    bad.destroy();

    await waitForLogLine(log, /authentication failed for user relay-user/, 5000);
    const result = await cli.stop();
    assert.equal(result.code, 0);
    const text = readText(log);
    assert.match(text, /authenticated user relay-user/);
    assert.match(text, /authentication failed for user someone-else/);
    assert.ok(!text.includes(secret), 'the password is nowhere in the log');
    assert.ok(!text.includes('other-pw') && !text.includes('printf'), 'nor the passwordeval command that holds one');
    assert.ok(!result.stderr.includes(secret) && !result.stdout.includes(secret));
  });

  test('a passwordeval without output is a start-up error', async () => {
    const result = await runCli(['--auth=someone,true', '--command=cat']);
    assert.equal(result.code, 3);
    assert.equal(assertOneErrorLine(result.stderr), "msmtp-relay: cannot get password: cannot read output of 'true'");
  });

  test('SIGTERM while a mail is in flight: the mail completes with 250, new clients are refused, exit 0', async () => {
    const port = await freePort();
    const dir = freshDir('sigterm');
    const log = join(dir, 'relay.log');
    const records = freshDir('sigterm-records');
    const cli = startCli([`--port=${port}`, `--log=${log}`, `--command=${commandString(recordCommand(records, { sleepMs: 1000 }))}`]);
    await waitForLogLine(log, /listening on/);
    const client = await connectSmtp(port);
    cleanups.push(() => client.destroy());
    await client.command('EHLO term.test');
    assert.equal((await client.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await client.command('RCPT TO:<b@example.net>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.send('Subject: in flight\r\n\r\nbody\r\n.\r\n');
    // The command has its whole input and sleeps 1 s before it exits: the mail is in flight.
    await waitUntil(() => readRecordings(records).length === 1, 5000, 'the command to receive the mail');
    cli.child.kill('SIGTERM');
    await waitForLogLine(log, /SIGTERM received: stopping/);
    await assert.rejects(
      new Promise((done, fail) => connect(port, '127.0.0.1').once('connect', done).once('error', fail)),
      /ECONNREFUSED/,
      'no new sessions while stopping',
    );
    const reply = await client.readReply(10_000);
    assert.equal(reply.code, 250, reply.raw);
    const result = await cli.exited(15_000);
    assert.equal(result.code, 0);
    const text = readText(log);
    assert.ok(text.indexOf('SIGTERM received') < text.indexOf('delivered; exit 0'), 'the mail finished after the signal');
    assert.match(text, /relay stopped/);
  });

  test('the extra options reach the engine: --max-sessions, --timeout, --max-recipients, --max-message-size', async () => {
    const port = await freePort();
    const log = join(freshDir('limits'), 'relay.log');
    const cli = startCli([`--port=${port}`, `--log=${log}`, SWALLOW, '--max-sessions=1', '--timeout=0.5', '--max-rec=1', '--max-message-size=1K']);
    assert.match(await waitForLogLine(log, /listening on/), /starting: .*max 1 sessions/);
    const first = await connectSmtp(port);
    cleanups.push(() => first.destroy());
    const second = await connectSmtp(port);
    cleanups.push(() => second.destroy());
    assert.equal(second.greeting?.code, 421, 'over the session limit: 421 at once');
    assert.ok((await first.command('EHLO limits.test')).lines.includes('SIZE 1024'));
    assert.equal((await first.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await first.command('RCPT TO:<b@example.net>')).code, 250);
    assert.equal((await first.command('RCPT TO:<c@example.net>')).code, 452);
    const idleSince = Date.now();
    const reply = await first.readReply(5000);
    assert.equal(reply.code, 421, 'an idle client is closed after --timeout');
    assert.ok(Date.now() - idleSince < 4000);
    assert.equal((await cli.stop()).code, 0);
  });

  test('SIGHUP is ignored, as msmtpd does', async () => {
    const port = await freePort();
    const log = join(freshDir('sighup'), 'relay.log');
    const cli = startCli([`--port=${port}`, `--log=${log}`, '--command=cat']);
    await waitForLogLine(log, /listening on/);
    cli.child.kill('SIGHUP');
    await waitForLogLine(log, /SIGHUP ignored/);
    const client = await connectSmtp(port);
    assert.equal(client.greeting?.code, 220);
    client.destroy();
    assert.equal((await cli.stop('SIGINT')).code, 0);
  });

  test('--log=/dev/full: the relay keeps serving and says so once on stderr', async () => {
    const port = await freePort();
    const cli = startCli([`--port=${port}`, '--log=/dev/full', SWALLOW]);
    await waitUntil(() => cli.stderr.includes('cannot write to log file'), 5000, 'the log write error');
    for (let i = 0; i < 2; i++) {
      const client = await connectWhenListening(port);
      await client.command('EHLO full.test');
      assert.equal((await sendMail(client, 'a@example.org', ['b@example.net'], 'Subject: full disk')).final?.code, 250);
      assert.equal((await client.command('QUIT')).code, 221);
      client.destroy();
    }
    const result = await cli.stop();
    assert.equal(result.code, 0);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^msmtp-relay: cannot write to log file \/dev\/full: ENOSPC/);
  });

  test('--log=syslog: lines reach syslog through the real logger, facility mail, ident msmtp-relay[PID]', async (t) => {
    const dir = freshDir('syslog');
    const socketPath = join(dir, 'syslog.sock');
    const received = join(dir, 'received');
    // A private syslog socket; a `logger` first in PATH sends there (the machine may have no /dev/log at all).
    const listener = spawn('python3', ['-c', [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); print("ready", flush=True)',
      'f = open(sys.argv[2], "ab", buffering=0)',
      'while True: f.write(s.recv(65536).rstrip(b"\\n") + b"\\n")',
    ].join('\n'), socketPath, received], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => listener.kill());
    await new Promise((done) => listener.stdout.once('data', done));
    const bin = freshDir('syslog-bin');
    writeFileSync(join(bin, 'logger'), `#!/bin/sh\nexec /usr/bin/logger -u '${socketPath}' "$@"\n`);
    chmodSync(join(bin, 'logger'), 0o755);
    if (!existsSync('/usr/bin/logger')) return t.skip('util-linux logger is not installed');

    const port = await freePort();
    const cli = startCli([`--port=${port}`, '--log=syslog', '--command=cat'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    await waitUntil(() => readText(received).includes('listening on'), 5000, 'the listening line in syslog');
    const client = await connectSmtp(port);
    await client.command('EHLO syslog.test');
    assert.equal((await client.command('XYZZY')).code, 500);
    assert.equal((await client.command('QUIT')).code, 221);
    client.destroy();
    await waitUntil(() => readText(received).includes('connection closed'), 5000, () => `the session in syslog: ${readText(received)}`);
    assert.equal((await cli.stop()).code, 0);
    // The loggers sent everything before the relay exited; the listener may still be writing it down.
    await waitUntil(() => readText(received).includes('relay stopped') && readText(received).includes('XYZZY'), 5000,
      () => `the last lines in syslog: ${readText(received)}`);
    const lines = readText(received).trim().split('\n');
    // <22> = facility mail (2) * 8 + info (6); <19> = mail + err (3); RFC 3164 or 5424 header, then ident[pid]
    const tag = `msmtp-relay[${cli.pid}]`;
    assert.ok(lines.some((line) => line.startsWith('<22>') && line.includes(tag) && line.includes('listening on 127.0.0.1')), lines.join('\n'));
    assert.ok(lines.some((line) => line.startsWith('<19>') && line.includes(tag) && line.includes('XYZZY')), lines.join('\n'));
    assert.ok(lines.some((line) => line.startsWith('<22>') && line.includes('relay stopped')), 'the last lines reach syslog before the exit');
  });
});

describe('--inetd', () => {
  test('over pipes: a pipelined session, exit 0, and the command cannot inject replies', async () => {
    const dir = freshDir('inetd');
    const mail = join(dir, 'mail');
    const log = join(dir, 'relay.log');
    const command = ['sh', '-c', 'cat > "$1"; echo "250 INJECTED"; echo "250 INJECTED-ERR" >&2', 'sh', mail, '-f', '%F', '--'];
    const input = 'EHLO pipes.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n' +
      'Subject: inetd\r\n\r\nover pipes\r\n.\r\nQUIT\r\n';
    const result = await runCli(['--inetd', '--command', commandString(command), '--log', log], { input });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(replyCodes(result.stdout), [220, 250, 250, 250, 354, 250, 221], result.stdout);
    assert.ok(!result.stdout.includes('INJECTED'), 'the command never writes to the client');
    assert.match(readFileSync(mail, 'utf8'), /Subject: inetd\n\nover pipes\n$/);
    assert.match(readText(log), /connection from inetd/);
    assert.match(readText(log), /command said: 250 INJECTED/);
  });

  test('end of input without QUIT exits 0; a session that ends badly exits 1', async () => {
    const eof = await runCli(['--inetd', '--command=cat'], { input: 'EHLO x\r\n' });
    assert.equal(eof.code, 0);
    const quitButOpen = await runCli(['--inetd', '--command=cat'], { input: 'EHLO x\r\nQUIT\r\n', keepStdinOpen: true, timeoutMs: 5000 });
    assert.equal(quitButOpen.code, 0, 'after QUIT it exits even though the client keeps its side open');
    const http = await runCli(['--inetd', '--command=cat'], { input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' });
    assert.equal(http.code, 1);
  });

  test('SIGTERM: an idle session ends at once; a mail still arriving is dropped, never delivered truncated', async () => {
    const dir = freshDir('inetd-sigterm');
    const log = join(dir, 'relay.log');
    const idle = startCli(['--inetd', `--log=${log}`, SWALLOW], undefined, true);
    idle.child.stdin!.write('EHLO idle.test\r\n');
    await waitUntil(() => idle.stdout.includes('250 HELP'), 5000, 'the EHLO reply');
    idle.child.kill('SIGTERM');
    assert.equal((await idle.exited(5000)).code, 0);

    const records = freshDir('inetd-sigterm-records');
    const busy = startCli(['--inetd', `--log=${log}`, `--command=${commandString(recordCommand(records))}`], undefined, true);
    busy.child.stdin!.write('EHLO busy.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n' +
      'Subject: cut short\r\n\r\nthe first half of the mail\r\n');
    await waitUntil(() => readdirSync(records).some((name) => name.endsWith('.partial') && statSync(join(records, name)).size > 0),
      5000, 'the command to start receiving the mail');
    busy.child.kill('SIGTERM');
    const stopped = await busy.exited(5000);
    assert.equal(stopped.code, 0, `a SIGTERM stop is a clean exit, mail in flight or not; stderr: ${stopped.stderr}`);
    assert.equal(readRecordings(records).length, 0, 'the command never saw the end of its input');
    assert.doesNotMatch(busy.stdout, /^250 2\.0\.0/m);
    assert.match(readText(log), /SIGTERM received: ending the session/);
  });

  test('never prompts nor reads stdin for the password', async () => {
    const result = await runCli(['--inetd', '--auth=nobody-in-the-keyring', '--command=cat'], {
      input: 'EHLO x\r\n',
      keepStdinOpen: true,
      timeoutMs: 40_000,
    });
    assert.equal(result.code, 3);
    assert.match(assertOneErrorLine(result.stderr), /^msmtp-relay: cannot get password for \(localhost, smtp, nobody-in-the-keyring\)/);
    assert.equal(result.stdout, '', 'no greeting: no session started');
  });

  // scripts/install-system-deps.sh installs both programs (socat; systemd for systemd-socket-activate): a missing
  // one is a broken test machine, not a reason to pass without a single assertion.
  const socketLaunchers: [string, (port: number, script: string) => string[]][] = [
    ['socat', (port, script) => ['socat', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:${script}`]],
    ['systemd-socket-activate', (port, script) => ['systemd-socket-activate', '--accept', '--inetd', '-l', `127.0.0.1:${port}`, script]],
  ];
  for (const [name, argv] of socketLaunchers) {
    test(`over a real socket with ${name}`, async () => {
      assert.ok(existsSync(`/usr/bin/${name}`), `${name} is not installed: run scripts/install-system-deps.sh`);
      const dir = freshDir(`inetd-socket-${name}`);
      const log = join(dir, 'relay.log');
      const records = freshDir(`inetd-socket-${name}-records`);
      const script = join(dir, 'relay-inetd.sh');
      writeFileSync(script, `#!/bin/sh\nexec ${commandString([process.execPath, cliPath, '--inetd', `--log=${log}`,
        `--command=${commandString(recordCommand(records))}`])}\n`);
      chmodSync(script, 0o755);

      const port = await freePort();
      const [file, ...args] = argv(port, script);
      const launcher: ChildProcess = spawn(file!, args, { stdio: 'ignore' });
      cleanups.push(() => launcher.kill());
      const client = await connectWhenListening(port);
      cleanups.push(() => client.destroy());
      assert.equal(client.greeting?.code, 220);
      await client.command('EHLO socket.test');
      assert.equal((await sendMail(client, 'a@example.org', [`${name}@example.net`], `Subject: via ${name}`)).final?.code, 250);
      assert.equal((await client.command('QUIT')).code, 221);
      await client.expectClosed();
      launcher.kill();
      assert.ok(readRecordings(records).some((r) => r.argv.at(-1) === `${name}@example.net`));
      // systemd hands over the TCP socket itself: the log names the client, as msmtpd's getpeername did.
      if (name === 'systemd-socket-activate') assert.match(readText(log), /connection from 127\.0\.0\.1/);
    });
  }

  test('over socat, parallel wrong passwords are spaced as in daemon mode (the last failure is kept in a 0600 file)', async (t) => {
    const delayMs = 300;
    const guesses = 6;
    const dir = freshDir('inetd-spacing');
    const runtime = freshDir('inetd-spacing-runtime');
    const script = join(dir, 'relay-inetd.sh');
    writeFileSync(script, `#!/bin/sh\nXDG_RUNTIME_DIR=${runtime} exec ${commandString([process.execPath, cliPath, '--inetd',
      `--log=${join(dir, 'relay.log')}`, `--auth-delay=${delayMs / 1000}`, '--auth=relay-user,echo right-pw', SWALLOW])}\n`);
    chmodSync(script, 0o755);
    const port = await freePort();
    const launcher = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `EXEC:${script}`], { stdio: 'ignore' });
    cleanups.push(() => launcher.kill());

    // One failure opens the window; its own answer comes at once, as in daemon mode.
    const first = await connectWhenListening(port);
    cleanups.push(() => first.destroy());
    await first.command('EHLO first');
    assert.equal((await first.command(`AUTH PLAIN ${plain('relay-user', 'wrong-0')}`)).code, 535);
    // Each guesser is its own relay process; all are past EHLO before the guesses go out together.
    const clients = await Promise.all(Array.from({ length: guesses }, () => connectSmtp(port)));
    for (const client of clients) cleanups.push(() => client.destroy());
    await Promise.all(clients.map((client) => client.command('EHLO guesser')));
    const started = Date.now();
    const answeredAt = await Promise.all(clients.map(async (client, i) => {
      assert.equal((await client.command(`AUTH PLAIN ${plain('relay-user', `wrong-${i + 1}`)}`, 15_000)).code, 535);
      return Date.now() - started;
    }));
    answeredAt.sort((a, b) => a - b);
    const gaps = answeredAt.slice(1).map((at, i) => at - answeredAt[i]!);
    t.diagnostic(`answers after ${answeredAt.join(', ')} ms; gaps ${gaps.join(', ')} ms (delay ${delayMs} ms)`);
    // Without the shared file every process answered after one delay: all six within a few ms of each other.
    assert.ok(answeredAt[0]! >= delayMs - 50, `the first guess was answered after ${answeredAt[0]} ms`);
    assert.ok(answeredAt.at(-1)! >= guesses * delayMs - 100, `the last guess was answered after ${answeredAt.at(-1)} ms`);
    // One turn per delay; a busy machine may wake one process late and the next on time.
    for (const gap of gaps) assert.ok(gap >= delayMs / 2, `answers after ${answeredAt.join(', ')} ms`);
    const state = join(runtime, 'msmtp-relay');
    assert.equal(statSync(state).mode & 0o777, 0o700);
    assert.equal(statSync(join(state, 'auth-failures')).mode & 0o777, 0o600);
    launcher.kill();
  });
});

describe('STARTTLS with --tls-cert and --tls-key', () => {
  test('offered only with both files; a key that does not match the certificate is a start-up error', async (t) => {
    if (!existsSync('/usr/bin/openssl')) return t.skip('openssl is not installed');
    const dir = freshDir('tls');
    const openssl = (...args: string[]) => {
      const result = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
      assert.equal(result.status, 0, result.stderr);
    };
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost', '-days', '1');
    openssl('genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', join(dir, 'other-key.pem'));

    const mismatch = await runCli([`--tls-cert=${join(dir, 'cert.pem')}`, `--tls-key=${join(dir, 'other-key.pem')}`, '--command=cat']);
    assert.equal(mismatch.code, 3);
    assert.match(assertOneErrorLine(mismatch.stderr), /^msmtp-relay: invalid TLS certificate or key: .*key values mismatch/);

    const port = await freePort();
    const log = join(dir, 'relay.log');
    const cli = startCli([`--port=${port}`, `--log=${log}`, SWALLOW, `--tls-cert=${join(dir, 'cert.pem')}`, `--tls-key=${join(dir, 'key.pem')}`]);
    await waitForLogLine(log, /listening on/);
    assert.match(readText(log), /STARTTLS offered/);
    const client = await connectSmtp(port);
    cleanups.push(() => client.destroy());
    assert.ok((await client.command('EHLO tls.test')).lines.includes('STARTTLS'));
    assert.equal((await client.command('STARTTLS')).code, 220);
    const secure = tlsConnect({ socket: client.socket, rejectUnauthorized: false });
    cleanups.push(() => secure.destroy());
    await new Promise<void>((done, fail) => secure.once('secureConnect', done).once('error', fail));
    assert.equal(secure.getPeerCertificate().subject.CN, 'localhost');
    let text = '';
    secure.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    secure.write('EHLO tls.test\r\nQUIT\r\n');
    await waitUntil(() => text.includes('221 '), 5000, () => `the replies over TLS: ${JSON.stringify(text)}`);
    assert.ok(!text.includes('STARTTLS'), 'not offered twice');
    assert.equal((await cli.stop()).code, 0);
  });
});

describe('password prompt', () => {
  test('on a terminal: prompt on the terminal, no echo, the typed password works', async () => {
    const port = await freePort();
    const log = join(freshDir('prompt'), 'relay.log');
    const typed = 'Typed-Pw-42';
    // No key ring reachable, no passwordeval: the terminal is the last source.
    const typist = spawn('python3', [join(REPO_ROOT, 'test', 'fixtures', 'pty-type.py'), 'password for typist at localhost: ', typed, '--',
      process.execPath, cliPath, '--auth=typist', `--port=${port}`, `--log=${log}`, '--command=cat'], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => typist.kill('SIGKILL'));
    let screen = '';
    typist.stdout.setEncoding('utf8').on('data', (text: string) => (screen += text));
    const exited = new Promise<number | null>((done) => typist.once('close', (code) => done(code)));
    await waitForLogLine(log, /listening on/, 20_000);
    assert.match(readText(log), /password from the terminal/);
    const client = await connectSmtp(port);
    await client.command('EHLO prompt.test');
    assert.equal((await client.command(`AUTH PLAIN ${plain('typist', typed)}`)).code, 235);
    await client.command('QUIT');
    client.destroy();
    typist.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(screen, /password for typist at localhost: /);
    assert.ok(!screen.includes(typed), `the password was not echoed: ${JSON.stringify(screen)}`);
  });
});
