// The whole chain of msmtpd's man page, second example, with real programs at every hop:
//   a mail client (swaks, curl, python3 smtplib, nodemailer) -> the relay with AUTH -> real `msmtp -f %F --`
//   with a test msmtprc -> an SMTP sink on 127.0.0.1 that records what arrives.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTransport } from 'nodemailer';
import { freePort } from '../helpers/ports';
import { CliProcess } from '../helpers/relay/cli-process';
import { writeMsmtprc, type TestMsmtprc } from '../helpers/programs/msmtprc';
import { startRelayHarness, type RelayHarness } from '../helpers/relay/relay-harness';
import { describeProgram, runProgram } from '../helpers/programs/run-program';
import { startSink, type SinkMail, type SmtpSink } from '../helpers/smtp/smtp-sink';

const USER = 'msmtpd-user';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const SENDER = 'sender@example.org';
const RECIPIENTS = ['rcpt1@example.com', 'rcpt2@example.net'];
const TEST_TIMEOUT = { timeout: 30_000 };

/**
 * A message that exercises the transparency rules: lines starting with '.', a line that is only '.', a line
 * of two dots, 8-bit UTF-8 text. Each client dot-stuffs it, the relay unstuffs it, msmtp stuffs it again and
 * the sink unstuffs it, so the sink must see these bytes exactly.
 */
function testMessage(client: string, marker: string): string {
  return [
    `From: Test Sender <${SENDER}>`,
    `To: ${RECIPIENTS.join(', ')}`,
    `Subject: ${client} through the relay ${marker}`,
    `Message-ID: <${marker}@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Hello from ${client}, marker ${marker}.`,
    '.a line that starts with a dot',
    '..two dots at the start',
    '.',
    'Grüße aus Köln – 8-bit text',
    'last line',
    '',
  ].join('\r\n');
}

/** The one mail in the sink that carries this marker; fails if there is none or more than one. */
function onlyMailWith(sink: SmtpSink, marker: string): SinkMail {
  const matching = sink.mails.filter((mail) => mail.raw.includes(marker));
  assert.equal(matching.length, 1, `expected exactly one mail with marker ${marker}, sink has ${matching.length}`);
  return matching[0]!;
}

/**
 * What msmtp handed on must be our Received header, then the client's message byte for byte (CRLF line ends on
 * the last hop, as SMTP requires).
 */
function assertDelivered(mail: SinkMail, expectedMessage: string, helo: string): void {
  assert.equal(mail.from, SENDER);
  assert.deepEqual([...mail.to].sort(), [...RECIPIENTS].sort());
  const text = mail.raw.toString('utf8');
  const received = /^Received: from ([^\r\n]*)\r\n((?:\t[^\r\n]*\r\n)+)/.exec(text);
  assert.ok(received, `the relay's Received header must come first; got:\n${text.slice(0, 400)}`);
  assert.match(received[1]!, new RegExp(`^${helo.replace(/\./g, '\\.')}\\b.*127\\.0\\.0\\.1`));
  assert.match(received[2]!, /by localhost\b/);
  assert.match(received[2]!, /\bESMTPA\b/, 'an authenticated session is recorded as ESMTPA (RFC 3848)');
  assert.equal(text.slice(received[0].length), expectedMessage);
}

describe('real mail clients -> relay (AUTH) -> real msmtp -> SMTP sink', () => {
  let sink: SmtpSink;
  let msmtprc: TestMsmtprc;
  let relay: RelayHarness;
  let work: string;

  before(async () => {
    sink = await startSink();
    msmtprc = writeMsmtprc({ port: sink.port });
    relay = await startRelayHarness({
      options: { command: msmtprc.command, auth: { user: USER, password: PASSWORD }, hostname: 'localhost' },
    });
    work = mkdtempSync(join(tmpdir(), 'clients-test-'));
  });

  after(async () => {
    await relay?.close();
    await sink?.close();
    msmtprc?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('swaks with AUTH PLAIN', TEST_TIMEOUT, async () => {
    await sendWithSwaks('PLAIN');
  });

  test('swaks with AUTH LOGIN', TEST_TIMEOUT, async () => {
    await sendWithSwaks('LOGIN');
  });

  async function sendWithSwaks(mechanism: 'PLAIN' | 'LOGIN'): Promise<void> {
    const marker = `swaks-${mechanism}-${randomBytes(4).toString('hex')}`;
    const message = testMessage(`swaks ${mechanism}`, marker);
    const file = join(work, `${marker}.eml`);
    // swaks ends every line it reads with CRLF itself: a file that ends in a newline would gain an empty line.
    writeFileSync(file, message.replace(/\r\n$/, ''));
    const before = sink.mails.length;
    const result = await runProgram('swaks', [
      '--server', '127.0.0.1', '--port', String(relay.port), '--helo', 'swaks.test',
      '--auth', mechanism, '--auth-user', USER, '--auth-password', PASSWORD,
      '--from', SENDER, '--to', RECIPIENTS.join(','), '--data', `@${file}`, '--timeout', '10',
    ]);
    assert.equal(result.code, 0, describeProgram('swaks', result));
    assert.match(result.stdout, new RegExp(`AUTH ${mechanism}`));
    assert.match(result.stdout, /^<-\s+235 /m, 'the relay accepted the credentials');
    await sink.waitForMails(before + 1, 5000);
    assert.equal(sink.mails.length, before + 1, 'exactly one mail reached the sink');
    assertDelivered(onlyMailWith(sink, marker), message, 'swaks.test');
  }

  test('curl smtp:// with --user (AUTH PLAIN)', TEST_TIMEOUT, async () => {
    const marker = `curl-${randomBytes(4).toString('hex')}`;
    const message = testMessage('curl', marker);
    const file = join(work, `${marker}.eml`);
    writeFileSync(file, message);
    const before = sink.mails.length;
    const result = await runProgram('curl', [
      '--silent', '--show-error', '--max-time', '10',
      `smtp://127.0.0.1:${relay.port}/curl.test`,
      '--mail-from', SENDER, ...RECIPIENTS.flatMap((rcpt) => ['--mail-rcpt', rcpt]),
      '--user', `${USER}:${PASSWORD}`, '--login-options', 'AUTH=PLAIN',
      '--upload-file', file,
    ]);
    assert.equal(result.code, 0, describeProgram('curl', result));
    await sink.waitForMails(before + 1, 5000);
    assert.equal(sink.mails.length, before + 1, 'exactly one mail reached the sink');
    assertDelivered(onlyMailWith(sink, marker), message, 'curl.test');
  });

  test('python3 smtplib: login() and sendmail() to two recipients', TEST_TIMEOUT, async () => {
    const marker = `python-${randomBytes(4).toString('hex')}`;
    const message = testMessage('python smtplib', marker);
    const before = sink.mails.length;
    const script = [
      'import json, smtplib, sys',
      'args = json.loads(sys.stdin.read())',
      'with smtplib.SMTP("127.0.0.1", args["port"], local_hostname="python.test", timeout=10) as smtp:',
      '    smtp.login(args["user"], args["password"])',
      '    refused = smtp.sendmail(args["from"], args["to"], args["message"].encode("utf-8"))',
      '    print(json.dumps({"refused": refused, "mechanism": smtp.esmtp_features.get("auth", "")}))',
    ].join('\n');
    const result = await runProgram('python3', ['-c', script], {
      input: JSON.stringify({ port: relay.port, user: USER, password: PASSWORD, from: SENDER, to: RECIPIENTS, message }),
    });
    assert.equal(result.code, 0, describeProgram('python3', result));
    const output = JSON.parse(result.stdout) as { refused: Record<string, unknown>; mechanism: string };
    assert.deepEqual(output.refused, {}, 'no recipient refused');
    assert.match(output.mechanism, /PLAIN/);
    await sink.waitForMails(before + 1, 5000);
    assert.equal(sink.mails.length, before + 1, 'exactly one mail reached the sink');
    assertDelivered(onlyMailWith(sink, marker), message, 'python.test');
  });

  test('nodemailer: createTransport with auth, raw message and explicit envelope', TEST_TIMEOUT, async () => {
    const marker = `nodemailer-${randomBytes(4).toString('hex')}`;
    const message = testMessage('nodemailer', marker);
    const before = sink.mails.length;
    const transport = createTransport({
      host: '127.0.0.1',
      port: relay.port,
      secure: false,
      ignoreTLS: true,
      name: 'nodemailer.test',
      auth: { user: USER, pass: PASSWORD },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 10_000,
    });
    try {
      const info = await transport.sendMail({ envelope: { from: SENDER, to: RECIPIENTS }, raw: message });
      assert.deepEqual([...info.accepted].sort(), [...RECIPIENTS].sort());
      assert.deepEqual(info.rejected, []);
      assert.match(info.response, /^250\b/);
    } finally {
      transport.close();
    }
    await sink.waitForMails(before + 1, 5000);
    assert.equal(sink.mails.length, before + 1, 'exactly one mail reached the sink');
    assertDelivered(onlyMailWith(sink, marker), message, 'nodemailer.test');
  });

  test('nodemailer: a composed message (text with dot lines) arrives with its body intact', TEST_TIMEOUT, async () => {
    const marker = `composed-${randomBytes(4).toString('hex')}`;
    const text = `Composed by nodemailer, ${marker}\n.dot first\n.\n..\nend\n`;
    const before = sink.mails.length;
    const transport = createTransport({
      host: '127.0.0.1', port: relay.port, secure: false, ignoreTLS: true, auth: { user: USER, pass: PASSWORD },
      connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000,
    });
    try {
      await transport.sendMail({
        from: SENDER, to: RECIPIENTS, subject: `composed ${marker}`, text, textEncoding: 'quoted-printable',
      });
    } finally {
      transport.close();
    }
    await sink.waitForMails(before + 1, 5000);
    const mail = onlyMailWith(sink, marker);
    assert.equal(mail.from, SENDER);
    assert.deepEqual([...mail.to].sort(), [...RECIPIENTS].sort());
    const raw = mail.raw.toString('utf8');
    assert.match(raw, /^Received: from /);
    assert.match(raw, new RegExp(`\r\nSubject: composed ${marker}\r\n`));
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    assert.equal(body, text.replace(/\n/g, '\r\n'), 'the body lines, dots included, survive every hop');
  });

  test('MAIL FROM:<> becomes -f MAILER-DAEMON, which msmtp turns back into the null sender', TEST_TIMEOUT, async () => {
    const marker = `bounce-${randomBytes(4).toString('hex')}`;
    const message = `Subject: delivery status ${marker}\r\n\r\nbounce body ${marker}\r\n`;
    const script = [
      'import json, smtplib, sys',
      'args = json.loads(sys.stdin.read())',
      'with smtplib.SMTP("127.0.0.1", args["port"], local_hostname="bounce.test", timeout=10) as smtp:',
      '    smtp.login(args["user"], args["password"])',
      '    smtp.sendmail("", [args["to"]], args["message"].encode("utf-8"))',
    ].join('\n');
    const sendBounce = (port: number) =>
      runProgram('python3', ['-c', script], {
        input: JSON.stringify({ port, user: USER, password: PASSWORD, to: RECIPIENTS[0], message }),
      });

    // What the command is given, seen by the record command in msmtp's place.
    const recorder = await startRelayHarness({ options: { auth: { user: USER, password: PASSWORD } } });
    try {
      const recorded = await sendBounce(recorder.port);
      assert.equal(recorded.code, 0, describeProgram('python3', recorded));
      const recordings = recorder.recordings();
      assert.equal(recordings.length, 1);
      assert.deepEqual(recordings[0]!.argv, ['-f', 'MAILER-DAEMON', '--', RECIPIENTS[0]]);
    } finally {
      await recorder.close();
    }

    // Through the real msmtp: it sends MAIL FROM:<> for MAILER-DAEMON, so the null sender survives the chain.
    const before = sink.mails.length;
    const result = await sendBounce(relay.port);
    assert.equal(result.code, 0, describeProgram('python3', result));
    await sink.waitForMails(before + 1, 5000);
    const mail = onlyMailWith(sink, marker);
    assert.equal(mail.from, '', 'the sink saw MAIL FROM:<>');
    assert.deepEqual(mail.to, [RECIPIENTS[0]]);
  });

  test('a wrong password gets 535, MAIL then gets 530, and nothing is delivered', TEST_TIMEOUT, async () => {
    // A relay of its own: the failure starts the engine's auth-failure delay, which must not slow the other tests.
    const guarded = await startRelayHarness({
      options: { command: msmtprc.command, auth: { user: USER, password: PASSWORD } },
    });
    try {
      const before = sink.mails.length;
      const script = [
        'import json, smtplib, sys',
        'args = json.loads(sys.stdin.read())',
        'out = {}',
        'with smtplib.SMTP("127.0.0.1", args["port"], local_hostname="guess.test", timeout=10) as smtp:',
        '    try:',
        '        smtp.login(args["user"], args["password"])',
        '        out["login"] = 235',
        '    except smtplib.SMTPAuthenticationError as e:',
        '        out["login"] = e.smtp_code',
        '    try:',
        '        smtp.sendmail(args["from"], args["to"], b"Subject: must not arrive\\r\\n\\r\\nno\\r\\n")',
        '        out["mail"] = 250',
        '    except smtplib.SMTPSenderRefused as e:',
        '        out["mail"] = e.smtp_code',
        'print(json.dumps(out))',
      ].join('\n');
      const result = await runProgram('python3', ['-c', script], {
        input: JSON.stringify({ port: guarded.port, user: USER, password: `${PASSWORD}-wrong`, from: SENDER, to: RECIPIENTS }),
      });
      assert.equal(result.code, 0, describeProgram('python3', result));
      assert.deepEqual(JSON.parse(result.stdout), { login: 535, mail: 530 });
      const failure = await guarded.waitForEvent((event) => event.type === 'auth' && !event.ok);
      assert.deepEqual(failure.type === 'auth' && { user: failure.user, ok: failure.ok }, { user: USER, ok: false });
      assert.equal(guarded.events.some((event) => event.type === 'mail'), false, 'no mail was attempted');
      assert.equal(sink.mails.length, before, 'nothing reached the sink');
      assert.doesNotMatch(JSON.stringify(guarded.events), new RegExp(PASSWORD), 'no event carries the password');
    } finally {
      await guarded.close();
    }
  });

  test('the sink refusing a recipient comes back to the client as a failure, not a 250', TEST_TIMEOUT, async () => {
    const refusing = await startSink({ rejectRecipient: (address) => address.startsWith('refused') });
    const rc = writeMsmtprc({ port: refusing.port });
    const chain = await startRelayHarness({ options: { command: rc.command, auth: { user: USER, password: PASSWORD } } });
    try {
      const transport = createTransport({
        host: '127.0.0.1', port: chain.port, secure: false, ignoreTLS: true, auth: { user: USER, pass: PASSWORD },
        connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000,
      });
      try {
        await assert.rejects(
          transport.sendMail({
            envelope: { from: SENDER, to: ['refused@example.com'] },
            raw: 'Subject: refused downstream\r\n\r\nbody\r\n',
          }),
          (error: { responseCode?: number }) => {
            assert.ok(error.responseCode === 451 || error.responseCode === 554, `got ${JSON.stringify(error)}`);
            return true;
          },
        );
      } finally {
        transport.close();
      }
      const mail = await chain.waitForEvent((event) => event.type === 'mail');
      assert.ok(mail.type === 'mail' && mail.outcome !== 'delivered', JSON.stringify(mail));
      assert.ok(mail.type === 'mail' && /refused/.test(mail.commandOutput ?? ''), `msmtp's complaint is logged: ${JSON.stringify(mail)}`);
      assert.equal(refusing.mails.length, 0);
    } finally {
      await chain.close();
      await refusing.close();
      rc.remove();
    }
  });
});

// The man page's second example from the command line, both ways it names to get the password:
//   msmtp-relay --port=N --auth=msmtpd-user,'echo secret' --command='msmtp -C rc -f %F --'
//   secret-tool store --label=msmtpd host localhost service smtp user U; msmtp-relay --port=N --auth=U --command=...
// driven by swaks, with a log file that must never show the password.
describe('CLI: the man page example with real msmtp', () => {
  test('--auth=user,passwordeval: swaks -> msmtp-relay CLI -> msmtp -> sink', TEST_TIMEOUT, async () => {
    await sendThroughCli(USER, PASSWORD, `--auth=${USER},echo ${PASSWORD}`, /password from passwordeval/);
  });

  test('--auth=user with the password in the key ring (secret-tool store, as the man page says)', TEST_TIMEOUT, async () => {
    assert.ok(process.env.DBUS_SESSION_BUS_ADDRESS, 'run through scripts/with-keyring.sh (npm test does)');
    // A user of its own: other test files may use the same private key ring at the same time.
    const user = `msmtpd-user-${randomBytes(4).toString('hex')}`;
    const password = `kr-${randomBytes(6).toString('hex')}`;
    const attributes = ['host', 'localhost', 'service', 'smtp', 'user', user];
    const stored = await runProgram('secret-tool', ['store', '--label=msmtpd', ...attributes], { input: password });
    assert.equal(stored.code, 0, describeProgram('secret-tool store', stored));
    try {
      await sendThroughCli(user, password, `--auth=${user}`, /password from msmtp's key ring entry/);
    } finally {
      await runProgram('secret-tool', ['clear', ...attributes]);
    }
  });
});

/** Runs the CLI with the given --auth option and sends one mail through it; `source` is where it must say it found the password. */
async function sendThroughCli(user: string, password: string, authOption: string, source: RegExp): Promise<void> {
  const sink = await startSink();
  const rc = writeMsmtprc({ port: sink.port });
  const logDir = mkdtempSync(join(tmpdir(), 'cli-log-'));
  const logFile = join(logDir, 'relay.log');
  const port = await freePort();
  let cli: CliProcess | undefined;
  const output = () => (cli ? cli.stdout + cli.stderr : '');
  try {
    cli = await CliProcess.listening(port, [authOption, `--command=msmtp -C ${rc.path} -f %F --`, `--log=${logFile}`]);
    const marker = `cli-${randomBytes(4).toString('hex')}`;
    const result = await runProgram('swaks', [
      '--server', '127.0.0.1', '--port', String(port), '--helo', 'cli.test',
      '--auth', 'PLAIN', '--auth-user', user, '--auth-password', password,
      '--from', SENDER, '--to', RECIPIENTS.join(','),
      '--header', `Subject: cli ${marker}`, '--body', `through the CLI ${marker}`, '--timeout', '10',
    ]);
    assert.equal(result.code, 0, `${describeProgram('swaks', result)}\n--- cli ---\n${output()}`);
    await sink.waitForMails(1, 5000);
    const mail = onlyMailWith(sink, marker);
    assert.equal(mail.from, SENDER);
    assert.deepEqual([...mail.to].sort(), [...RECIPIENTS].sort());
    assert.match(mail.raw.toString('utf8'), /^Received: from cli\.test\b[^\r]*\r\n\tby localhost\b[^\r]*ESMTPA/);
    assert.equal((await cli.stop('SIGTERM', 5000)).code, 0, output());
    const log = readFileSync(logFile, 'utf8');
    assert.match(log, source);
    assert.match(log, new RegExp(`authenticated user ${user}`));
    assert.match(log, new RegExp(`mail from ${SENDER} to ${RECIPIENTS.join(', ')}`));
    assert.doesNotMatch(log + output(), new RegExp(password), 'the password never appears in the log or the output');
  } finally {
    cli?.kill();
    await sink.close();
    rc.remove();
    rmSync(logDir, { recursive: true, force: true });
  }
}
