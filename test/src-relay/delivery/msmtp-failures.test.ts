import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deliverViaCommand, type DeliveryReport } from '../../../src-relay/index';
import { STAGE_LABELS, classifyCommandFailure, describeFailure } from '../../../src-relay/delivery/msmtp-failures';
import { bodyOf, deliveryError } from './deliver.cases';
import { writeMsmtprc } from '../../helpers/programs/msmtprc';
import { startScriptedSink, type SinkScript, type SinkStage } from '../../helpers/smtp/scripted-sink';
import { type FailureStage } from '../../../src-relay/smtp/handler';

/*
 * One test per row of the table in docs/outbox.md ("Temporary or permanent: msmtp's failures"): each runs the real
 * msmtp through the engine's own deliverViaCommand against a scripted loopback server or the named condition, and
 * checks the exit status and words msmtp gives, then the decision. Nothing leaves the machine: name lookups go to a
 * loopback DNS responder (mount namespace with its own resolv.conf), offline runs are in `unshare -n`.
 */

const docs = readFileSync(resolve(__dirname, '..', '..', '..', '..', 'docs', 'outbox.md'), 'utf8');
const temp = mkdtempSync(join(tmpdir(), 'failure-class-'));
after(() => rmSync(temp, { recursive: true, force: true }));

const MAIL = 'Subject: failure table\n\nhello\n';
const envelopeTo = (to: readonly string[] = ['rcpt@example.com']) =>
  ({ id: 'fc-1', helo: 'client.test', remote: '127.0.0.1', from: 'sender@example.org', to });
const login = { user: 'alice', password: 'right' };
let tls: { key: string; cert: string; certPath: string };

before(() => {
  const keyPath = join(temp, 'key.pem');
  const certPath = join(temp, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-days', '2', '-keyout', keyPath, '-out', certPath], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(made.status, 0, made.stderr);
  tls = { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
});

/** msmtp trusts the sink's certificate, made for 'localhost', while it connects to 127.0.0.1. */
const trusted = () => ({ tls: 'on', tls_starttls: 'on', tls_trust_file: tls.certPath, tls_host_override: 'localhost' });
const loggingIn = () => ({ ...trusted(), auth: 'plain', user: login.user, password: login.password });

interface RunOptions {
  /** msmtprc commands for the account (host, port, tls, auth, timeout...). */
  readonly settings?: Record<string, string>;
  /** Runs msmtp inside something (unshare); gets msmtp's argv, returns the argv to start. */
  readonly wrap?: (argv: string[]) => string[];
  readonly to?: readonly string[];
  /** The relay's delivery time-out (no progress for this long: killed). */
  readonly timeoutMs?: number;
}

/** Delivers one mail with the real msmtp (the relay's argv) and returns what the engine saw of the failure. */
async function failedDelivery(port: number, options: RunOptions = {}): Promise<DeliveryReport> {
  const rc = writeMsmtprc({ port, settings: { timeout: '1', ...options.settings } });
  try {
    const argv = options.wrap ? options.wrap([...rc.command]) : [...rc.command];
    const error = await deliveryError(deliverViaCommand({ argv, timeoutMs: options.timeoutMs ?? 20_000 },
      envelopeTo(options.to), bodyOf(MAIL), 'Received: test\n'));
    return error.report;
  } finally {
    rc.remove();
  }
}

async function againstSink(script: SinkScript, options: RunOptions = {}): Promise<DeliveryReport> {
  const sink = await startScriptedSink(script);
  try {
    return await failedDelivery(sink.port, options);
  } finally {
    await sink.close();
  }
}

function runCommand(argv: string[]): Promise<DeliveryReport> {
  return deliveryError(deliverViaCommand({ argv, timeoutMs: 20_000 }, envelopeTo(), bodyOf(MAIL), 'Received: test\n'))
    .then((error) => error.report);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * A DNS server on a loopback address that answers every query "no such name" (NXDOMAIN), and a resolv.conf naming
 * it; msmtp runs in a mount namespace where that file is /etc/resolv.conf, so its lookup never leaves the machine.
 */
async function withNxdomainResolver<T>(body: (wrap: (argv: string[]) => string[]) => Promise<T>): Promise<T> {
  const address = '127.53.0.1';
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (query.length < 12) return;
    const reply = Buffer.from(query);
    reply[2] = 0x80 | (query[2]! & 0x01); // a response, recursion desired as asked
    reply[3] = 0x80 | 0x03; // recursion available, RCODE 3: no such name
    reply.writeUInt16BE(0, 6);
    reply.writeUInt16BE(0, 8);
    reply.writeUInt16BE(0, 10);
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((done, fail) => {
    socket.once('error', fail);
    socket.bind(53, address, () => done());
  });
  const resolvConf = join(temp, 'resolv-nxdomain.conf');
  writeFileSync(resolvConf, `nameserver ${address}\n`);
  try {
    return await body((argv) => withResolvConf(resolvConf, argv));
  } finally {
    socket.close();
  }
}

/**
 * argv that runs msmtp with resolvConf as /etc/resolv.conf, in a mount namespace of its own, and with an
 * nsswitch.conf that asks only the hosts file and that DNS server: no systemd-resolved or mDNS lookup that could
 * leave the machine.
 */
function withResolvConf(resolvConf: string, argv: string[], unshareFlags = ['-m']): string[] {
  const nsswitch = join(dirname(resolvConf), 'nsswitch.conf');
  writeFileSync(nsswitch, 'hosts: files dns\n');
  return ['unshare', ...unshareFlags, '--', 'sh', '-c',
    'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"', resolvConf, nsswitch, ...argv];
}

/**
 * A loopback listener that never accepts, with its backlog filled, so the kernel drops further SYNs and msmtp's
 * connect waits out its time-out. Node accepts at once, so python holds the socket; it exits by itself after 30 s.
 */
async function withFullBacklog<T>(body: (port: number) => Promise<T>): Promise<T> {
  const holder = spawn('python3', ['-c', [
    'import socket, time',
    's = socket.socket()',
    's.bind(("127.0.0.1", 0))',
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(30)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  try {
    const port = await new Promise<number>((done, fail) => {
      holder.once('error', fail);
      holder.stdout.once('data', (data: Buffer) => done(Number(String(data).trim())));
    });
    for (let i = 0; i < 3; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => {}));
    await new Promise((done) => setTimeout(done, 200));
    return await body(port);
  } finally {
    for (const filler of fillers) filler.destroy();
    holder.kill();
  }
}

interface Row {
  /** The first column of the docs table, word for word. */
  readonly case: string;
  /** msmtp's exit status as measured, or the signal that ended it, or node's negative errno for a failed start. */
  readonly exit: number | string;
  readonly words: RegExp;
  readonly stage: FailureStage;
  readonly temporary: boolean;
  readonly serverReply?: string;
  /** Set when the row is an msmtp account that needs the user (the mail is kept until it is fixed). */
  readonly account?: 'login-refused' | 'no-password';
  readonly run: () => Promise<DeliveryReport>;
}

const offline = (argv: string[]) => ['unshare', '-n', '--', ...argv];

/** How msmtp reaches the stage: in the clear, over a trusted STARTTLS, or logged in over it (made when run). */
interface Context {
  readonly script?: () => SinkScript;
  readonly settings?: () => Record<string, string>;
}
const overTls: Context = { script: () => ({ tls }), settings: trusted };
const loggedIn: Context = { script: () => ({ tls, auth: login }), settings: loggingIn };

/** A row where the sink answers `reply` at one stage: msmtp must quote that reply as the server's. */
function serverSays(at: SinkStage, reply: string, row: Omit<Row, 'serverReply' | 'run'>, context: Context = {}): Row {
  return {
    ...row,
    serverReply: reply,
    run: () => againstSink({ ...context.script?.(), answers: { [at]: reply } }, { settings: context.settings?.() ?? {} }),
  };
}

const ROWS: readonly Row[] = [
  {
    case: 'name does not resolve',
    exit: 68, stage: 'lookup', temporary: true,
    words: /^msmtp: cannot locate host nowhere\.invalid: Name or service not known$/m,
    run: () => withNxdomainResolver((wrap) => failedDelivery(25, { settings: { host: 'nowhere.invalid' }, wrap })),
  },
  {
    case: 'name lookup while offline',
    exit: 68, stage: 'lookup', temporary: true,
    words: /^msmtp: cannot locate host nowhere\.invalid: Temporary failure in name resolution$/m,
    run: () => {
      const resolvConf = join(temp, 'resolv-loopback.conf');
      writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
      return failedDelivery(25, { settings: { host: 'nowhere.invalid' }, wrap: (argv) => withResolvConf(resolvConf, argv, ['-n', '-m']) });
    },
  },
  {
    case: 'connection refused',
    exit: 75, stage: 'connect', temporary: true,
    words: /^msmtp: cannot connect to 127\.0\.0\.1, port \d+: Connection refused$/m,
    run: async () => failedDelivery(await closedPort()),
  },
  {
    case: 'no route (offline)',
    exit: 75, stage: 'connect', temporary: true,
    words: /^msmtp: cannot connect to 127\.0\.0\.1, port 25: Network is unreachable$/m,
    run: () => failedDelivery(25, { wrap: offline }),
  },
  {
    case: 'connect time-out',
    exit: 75, stage: 'connect', temporary: true,
    words: /^msmtp: cannot connect to 127\.0\.0\.1, port \d+: Connection timed out$/m,
    run: () => withFullBacklog((port) => failedDelivery(port)),
  },
  serverSays('greeting', '421 4.3.2 Service shutting down', {
    case: 'server 421 at the greeting', exit: 76, stage: 'greeting', temporary: true,
    words: /^msmtp: cannot get initial OK message from server\nmsmtp: server message: 421 4\.3\.2 Service shutting down$/m,
  }),
  serverSays('greeting', '554 5.7.1 No SMTP service here', {
    case: 'server 554 at the greeting', exit: 76, stage: 'greeting', temporary: false,
    words: /^msmtp: cannot get initial OK message from server$/m,
  }),
  serverSays('ehlo', '451 4.3.0 Try again later', {
    case: 'server 451 at EHLO', exit: 76, stage: 'ehlo', temporary: true,
    words: /^msmtp: SMTP server does not accept EHLO or HELO commands$/m,
  }),
  serverSays('ehlo', '550 5.7.1 Client host rejected', {
    case: 'server 550 at EHLO', exit: 76, stage: 'ehlo', temporary: false,
    words: /^msmtp: SMTP server does not accept EHLO or HELO commands$/m,
  }),
  serverSays('starttls', '454 4.7.0 TLS not available due to temporary reason', {
    case: 'server 454 at STARTTLS', exit: 76, stage: 'starttls', temporary: true,
    words: /^msmtp: command STARTTLS failed$/m,
  }, overTls),
  serverSays('starttls', '554 5.7.3 TLS refused', {
    case: 'server 554 at STARTTLS', exit: 76, stage: 'starttls', temporary: false,
    words: /^msmtp: command STARTTLS failed$/m,
  }, overTls),
  {
    case: 'server offers no STARTTLS',
    exit: 69, stage: 'starttls', temporary: false,
    words: /^msmtp: the server does not support TLS via the STARTTLS command$/m,
    run: () => againstSink({}, { settings: trusted() }),
  },
  {
    case: 'TLS certificate not trusted',
    exit: 69, stage: 'tls', temporary: false,
    words: /^msmtp: TLS certificate verification failed: The certificate is NOT trusted\./m,
    run: () => againstSink({ tls }, { settings: { tls: 'on', tls_starttls: 'on' } }),
  },
  {
    case: 'TLS handshake fails (TLS on a plain port)',
    exit: 76, stage: 'tls', temporary: false,
    words: /^msmtp: TLS handshake failed: An unexpected TLS packet was received\.$/m,
    run: () => againstSink({}, { settings: { ...trusted(), tls_starttls: 'off' } }),
  },
  {
    case: 'TLS trust file missing',
    exit: 66, stage: 'tls', temporary: false,
    words: /^msmtp: cannot set X509 trust file \S+ for TLS session: Error while reading file\.$/m,
    run: () => againstSink({ tls }, { settings: { ...trusted(), tls_trust_file: join(temp, 'missing.pem') } }),
  },
  {
    case: 'server 535 at AUTH (wrong password)',
    exit: 77, stage: 'auth', temporary: true, account: 'login-refused', serverReply: '535 5.7.8 Authentication credentials invalid',
    words: /^msmtp: authentication failed \(method PLAIN\)$/m,
    run: () => againstSink({ tls, auth: login }, { settings: { ...loggingIn(), password: 'wrong' } }),
  },
  serverSays('auth', '454 4.7.0 Temporary authentication failure', {
    case: 'server 454 at AUTH', exit: 77, stage: 'auth', temporary: true,
    words: /^msmtp: authentication failed \(method PLAIN\)$/m,
  }, loggedIn),
  {
    case: 'server offers no AUTH',
    exit: 69, stage: 'auth', temporary: false,
    words: /^msmtp: the server does not support authentication$/m,
    run: () => againstSink({ tls }, { settings: loggingIn() }),
  },
  {
    case: 'AUTH without TLS',
    exit: 69, stage: 'auth', temporary: false,
    words: /^msmtp: cannot use a secure authentication method$/m,
    run: () => againstSink({ auth: login }, { settings: { auth: 'on', user: login.user, password: login.password } }),
  },
  {
    case: 'no password for msmtp',
    exit: 69, stage: 'auth', temporary: true, account: 'no-password',
    words: /^msmtp: authentication method PLAIN needs a password$/m,
    run: () => againstSink({ tls, auth: login }, { settings: { ...trusted(), auth: 'plain', user: login.user } }),
  },
  {
    case: 'passwordeval fails (keyring locked)',
    exit: 78, stage: 'auth', temporary: true,
    words: /^msmtp: cannot read output of 'false'$/m,
    run: () => againstSink({ tls, auth: login }, { settings: { ...trusted(), auth: 'plain', user: login.user, passwordeval: 'false' } }),
  },
  serverSays('mail', '451 4.3.0 Try again later', {
    case: 'server 451 at MAIL FROM', exit: 69, stage: 'mail-from', temporary: true,
    words: /^msmtp: envelope from address sender@example\.org not accepted by the server$/m,
  }),
  serverSays('mail', '553 5.7.1 Sender address rejected: not owned by user', {
    case: 'server 553 at MAIL FROM', exit: 65, stage: 'mail-from', temporary: false,
    words: /^msmtp: envelope from address sender@example\.org not accepted by the server$/m,
  }),
  {
    case: 'server 530 at MAIL FROM (login required)',
    exit: 65, stage: 'mail-from', temporary: false, serverReply: '530 5.7.0 Authentication required',
    words: /^msmtp: envelope from address sender@example\.org not accepted by the server$/m,
    run: () => againstSink({ auth: login }),
  },
  serverSays('rcpt', '451 4.7.1 Greylisted, try again later', {
    case: 'server 451 at RCPT TO', exit: 69, stage: 'rcpt-to', temporary: true,
    words: /^msmtp: recipient address rcpt@example\.com not accepted by the server$/m,
  }),
  serverSays('rcpt', '421 4.3.2 Service shutting down', {
    case: 'server 421 at RCPT TO', exit: 69, stage: 'rcpt-to', temporary: true,
    words: /^msmtp: recipient address rcpt@example\.com not accepted by the server$/m,
  }),
  serverSays('rcpt', '550 5.1.1 No such user', {
    case: 'server 550 at RCPT TO', exit: 65, stage: 'rcpt-to', temporary: false,
    words: /^msmtp: recipient address rcpt@example\.com not accepted by the server$/m,
  }),
  {
    case: 'one of two recipients refused (550)',
    exit: 65, stage: 'rcpt-to', temporary: false, serverReply: '550 5.1.1 No such user',
    words: /^msmtp: recipient address nobody@example\.com not accepted by the server$/m,
    run: () => againstSink({ rcptAnswer: (address) => (address.startsWith('nobody@') ? '550 5.1.1 No such user' : undefined) },
      { to: ['rcpt@example.com', 'nobody@example.com'] }),
  },
  serverSays('data', '451 4.3.0 Try again later', {
    case: 'server 451 at DATA', exit: 69, stage: 'data', temporary: true,
    words: /^msmtp: the server does not accept mail data$/m,
  }),
  serverSays('data', '554 5.5.1 No valid recipients', {
    case: 'server 554 at DATA', exit: 65, stage: 'data', temporary: false,
    words: /^msmtp: the server does not accept mail data$/m,
  }),
  serverSays('end-of-data', '451 4.3.0 Queue full, try again later', {
    case: 'server 451 at the end of data', exit: 69, stage: 'end-of-data', temporary: true,
    words: /^msmtp: the server did not accept the mail$/m,
  }),
  serverSays('end-of-data', '554 5.7.1 Message rejected as spam', {
    case: 'server 554 at the end of data', exit: 69, stage: 'end-of-data', temporary: false,
    words: /^msmtp: the server did not accept the mail$/m,
  }),
  {
    case: 'server never answers',
    exit: 74, stage: 'timeout', temporary: true,
    words: /^msmtp: network read error: the operation timed out$/m,
    run: () => againstSink({ answers: { greeting: 'hang' } }),
  },
  {
    case: 'server never answers after the end of data',
    exit: 74, stage: 'timeout', temporary: true,
    words: /^msmtp: network read error: the operation timed out$/m,
    run: () => againstSink({ answers: { 'end-of-data': 'hang' } }),
  },
  {
    case: 'server never answers over TLS',
    exit: 'SIGKILL', stage: 'command', temporary: true,
    words: /^$/,
    run: () => againstSink({ tls, answers: { mail: 'hang' } }, { settings: trusted(), timeoutMs: 2500 }),
  },
  {
    case: 'server closes the connection',
    exit: 76, stage: 'unknown', temporary: true,
    words: /^msmtp: the server sent an empty reply$/m,
    run: () => againstSink({ answers: { rcpt: 'drop' } }),
  },
  {
    case: 'server closes the TLS connection',
    exit: 74, stage: 'tls', temporary: true,
    words: /^msmtp: cannot read from TLS connection: The TLS connection was non-properly terminated\.$/m,
    run: () => againstSink({ tls, answers: { mail: 'drop' } }, { settings: trusted() }),
  },
  {
    case: 'msmtp configuration error',
    exit: 78, stage: 'command', temporary: false,
    words: /^msmtp: \S+msmtprc: line \d+: unknown command no_such_command$/m,
    run: () => againstSink({}, { settings: { no_such_command: 'on' } }),
  },
  {
    case: 'msmtp configuration file missing',
    exit: 74, stage: 'command', temporary: false,
    words: /^msmtp: \S+\/missing-msmtprc: No such file or directory$/m,
    run: () => runCommand(['msmtp', '-C', join(temp, 'missing-msmtprc'), '-f', '%F', '--']),
  },
  {
    case: 'msmtp called without recipients',
    exit: 64, stage: 'command', temporary: false,
    words: /^msmtp: no recipients found$/m,
    run: () => againstSink({}, { to: [] }),
  },
  {
    case: 'delivery command not found',
    exit: -2, stage: 'command', temporary: false,
    words: /^$/,
    run: () => runCommand([join(temp, 'no-such-msmtp'), '-f', '%F', '--']),
  },
  {
    case: 'delivery command not executable',
    exit: -13, stage: 'command', temporary: false,
    words: /^$/,
    run: () => runCommand([tls.certPath, '-f', '%F', '--']),
  },
];

describe("msmtp's failures, one row of docs/outbox.md each, with the real msmtp", () => {
  for (const row of ROWS) {
    it(row.case, async () => {
      const report = await row.run();
      const measured = report.signal ?? report.exitCode;
      assert.equal(measured, row.exit, `msmtp's exit status; it said: ${report.output}`);
      assert.match(report.output, row.words);
      const failure = classifyCommandFailure(report);
      assert.equal(failure.stage, row.stage, JSON.stringify(failure));
      assert.equal(failure.temporary, row.temporary, JSON.stringify(failure));
      assert.equal(failure.serverReply, row.serverReply);
      assert.equal(failure.account?.reason, row.account, JSON.stringify(failure));
      if (row.account) assert.equal(failure.account?.name, 'default', "the account's name, from msmtp's closing line");
      assertWords(failure.reason, failure.advice);
      const line = describeFailure(report, failure);
      assert.ok(line.startsWith(`${STAGE_LABELS[row.stage]} failed: `), line);
      assertDocumented(row);
    });
  }

  it('the docs table has no row without a test', () => {
    const documented = tableRows().map((cells) => cells[0]);
    assert.deepEqual(documented, ROWS.map((row) => row.case));
  });
});

/** Words for the Queued reply and the UI: one short line for the reason, one sentence of advice. */
function assertWords(reason: string, advice: string): void {
  assert.match(reason, /^[A-Za-z][^\r\n;]{3,60}[^.]$/, reason);
  assert.match(advice, /^[A-Z][^\r\n]{10,200}[.]$/, advice);
}

/** The rows of the table in the failure section: cells without the outer pipes, header and rule skipped. */
function tableRows(): string[][] {
  const start = docs.indexOf("## Temporary or permanent: msmtp's failures");
  assert.ok(start >= 0, 'docs/outbox.md has the failure section');
  const end = docs.indexOf('\n## ', start + 1);
  const section = docs.slice(start, end < 0 ? undefined : end);
  return section.split('\n').filter((line) => line.startsWith('| '))
    .map((line) => line.slice(2, -2).split(' | ').map((cell) => cell.trim()))
    .filter((cells) => cells[0] !== 'case' && !/^-+$/.test(cells[0]!));
}

/** The docs say what the test measured: same stage, exit status and decision. */
function assertDocumented(row: Row): void {
  const cells = tableRows().find((candidate) => candidate[0] === row.case);
  assert.ok(cells, `docs/outbox.md has a row "${row.case}"`);
  const [, stage, exit, , decision] = cells;
  assert.equal(stage, `\`${row.stage}\``, `stage of "${row.case}" in the docs`);
  assert.match(exit!, new RegExp(`^${String(row.exit)}\\b`), `exit of "${row.case}" in the docs`);
  assert.match(decision!, row.temporary ? /^temporary/ : /^permanent/, `decision of "${row.case}" in the docs`);
}

describe('the scripted sink', () => {
  it('delivers when its script names no stage, and a new script applies to the next delivery', async () => {
    const sink = await startScriptedSink({ answers: { rcpt: '451 4.3.0 Try again later' } });
    const rc = writeMsmtprc({ port: sink.port });
    try {
      const deferred = await deliveryError(deliverViaCommand({ argv: rc.command, timeoutMs: 20_000 }, envelopeTo(), bodyOf(MAIL), ''));
      assert.equal(classifyCommandFailure(deferred.report).temporary, true);
      assert.equal(sink.mails.length, 0);
      sink.setScript({});
      await deliverViaCommand({ argv: rc.command, timeoutMs: 20_000 }, envelopeTo(), bodyOf(MAIL), '');
      const [mail] = await sink.waitForMails(1, 5000);
      assert.deepEqual([mail!.from, mail!.to, mail!.raw.toString('latin1')], ['sender@example.org', ['rcpt@example.com'], MAIL.replace(/\n/g, '\r\n')]);
      assert.equal(sink.connections, 2);
      assert.deepEqual(sink.commands.filter((command) => command.startsWith('RCPT')), ['RCPT TO:<rcpt@example.com>', 'RCPT TO:<rcpt@example.com>']);
    } finally {
      rc.remove();
      await sink.close();
    }
  });

  it('refuses a script whose answer is not SMTP reply lines', async () => {
    await assert.rejects(startScriptedSink({ answers: { rcpt: 'try later' } }), /not SMTP reply lines/);
    await assert.rejects(startScriptedSink({ answers: { data: '354 go\nhello' } }), /not SMTP reply lines/);
  });

  it('goes down on close() (the port is refused) and comes back on the same port', async () => {
    const first = await startScriptedSink({});
    await first.close();
    const report = await failedDelivery(first.port);
    assert.equal(report.exitCode, 75);
    assert.equal(classifyCommandFailure(report).reason, 'mail server refused the connection');
    const again = await startScriptedSink({}, { port: first.port });
    const rc = writeMsmtprc({ port: again.port });
    try {
      await deliverViaCommand({ argv: rc.command, timeoutMs: 20_000 }, envelopeTo(), bodyOf(MAIL), '');
      assert.equal((await again.waitForMails(1, 5000)).length, 1);
    } finally {
      rc.remove();
      await again.close();
    }
  });

  it('cuts a hanging connection after idleTimeoutMs, so nothing waits for ever', async () => {
    const sink = await startScriptedSink({ answers: { rcpt: 'hang' } }, { idleTimeoutMs: 300 });
    try {
      const started = Date.now();
      const report = await failedDelivery(sink.port, { settings: { timeout: '10' } });
      assert.equal(report.exitCode, 76);
      assert.match(report.output, /^msmtp: the server sent an empty reply$/m);
      assert.ok(Date.now() - started < 5000, 'cut by the sink, not by msmtp\'s 10 s time-out');
    } finally {
      await sink.close();
    }
  });
});

describe('classifyCommandFailure on odd or partial output', () => {
  const classify = (exitCode: number | null, output = '', signal: string | null = null) =>
    classifyCommandFailure({ exitCode, signal, output });

  it('throws for exit status 0: a success never reaches it', () => {
    assert.throws(() => classify(0), RangeError);
  });

  it('decides by the exit status alone when there are no words', () => {
    for (const code of [68, 69, 71, 73, 74, 75]) assert.equal(classify(code).temporary, true, String(code));
    for (const code of [1, 2, 64, 65, 66, 67, 70, 72, 76, 77, 78, 255]) assert.equal(classify(code).temporary, false, String(code));
    assert.equal(classify(75).stage, 'unknown');
    assert.equal(classify(75).reason, 'delivery command failed (exit 75 EX_TEMPFAIL)');
    assert.equal(classify(1).reason, 'delivery command failed (exit 1)');
  });

  it('keeps the mail when the account needs the user: a refused login or no password, with the account named', () => {
    const refused = classify(77, 'msmtp: authentication failed (method PLAIN)\nmsmtp: server message: 535 5.7.8 Bad\n' +
      'msmtp: could not send mail (account work from /home/me/.msmtprc)');
    assert.deepEqual([refused.temporary, refused.stage, refused.account?.reason, refused.account?.name], [true, 'auth', 'login-refused', 'work']);
    assert.match(refused.advice, /account work/);
    const none = classify(69, 'msmtp: authentication method PLAIN needs a password\nmsmtp: could not send mail (account a b from /f)');
    assert.deepEqual([none.temporary, none.account?.reason, none.account?.name], [true, 'no-password', 'a b']);
    // A 4xx at AUTH is the server's passing trouble, not the account's.
    assert.equal(classify(77, 'msmtp: authentication failed (method LOGIN)\nmsmtp: server message: 454 4.7.0 later').account, undefined);
    // The server's words never make an account failure: only msmtp's own.
    assert.equal(classify(65, 'msmtp: recipient address a@b not accepted by the server\nmsmtp: server message: 550 authentication failed').account, undefined);
  });

  it('lets a quoted 4xx or 5xx win over the exit status and the words', () => {
    assert.equal(classify(77, 'msmtp: authentication failed (method LOGIN)\nmsmtp: server message: 454 4.7.0 later').temporary, true);
    assert.equal(classify(69, 'msmtp: the server did not accept the mail\nmsmtp: server message: 552 5.3.4 Too big').temporary, false);
    // Without known words, the quoted code still decides.
    const unknown = classify(69, 'msmtp: something new\nmsmtp: server message: 550 5.7.1 Denied');
    assert.deepEqual([unknown.temporary, unknown.stage, unknown.serverReply], [false, 'unknown', '550 5.7.1 Denied']);
  });

  it("takes the stage from msmtp's words, never from the server's text", () => {
    const failure = classify(65, 'msmtp: recipient address a@b not accepted by the server\n' +
      'msmtp: server message: 550 5.7.1 Relaying denied, authentication failed: connection reset');
    assert.deepEqual([failure.stage, failure.reason], ['rcpt-to', 'recipient refused by the mail server']);
  });

  it('ignores a quoted 2xx or 3xx for the decision', () => {
    const failure = classify(76, 'msmtp: command STARTTLS failed\nmsmtp: server message: 250 2.0.0 odd');
    assert.deepEqual([failure.temporary, failure.stage, failure.serverReply], [false, 'starttls', '250 2.0.0 odd']);
  });

  it("joins a multi-line reply into one, the codes said once", () => {
    const failure = classify(65, [
      'msmtp: recipient address a@example.com not accepted by the server',
      'msmtp: server message: 550-5.1.1 The email account that you tried to reach does not exist.',
      'msmtp: server message: 550 5.1.1 Please check the address.',
      'msmtp: could not send mail (account default from /home/u/.msmtprc)',
    ].join('\n'));
    assert.equal(failure.serverReply, '550 5.1.1 The email account that you tried to reach does not exist. Please check the address.');
    assert.equal(failure.stage, 'rcpt-to');
  });

  it("finds the reply code in msmtp's translations too", () => {
    const german = classify(76, 'msmtp: kann keine OK-Nachricht vom Server erhalten\nmsmtp: Nachricht des Servers: 421 4.3.2 Bye');
    assert.deepEqual([german.temporary, german.stage, german.serverReply], [true, 'unknown', '421 4.3.2 Bye']);
    const french = classify(65, 'msmtp: message du serveur : 550 5.1.1 Inconnu');
    assert.deepEqual([french.temporary, french.serverReply], [false, '550 5.1.1 Inconnu']);
  });

  it('reads a tail that starts in the middle of a line, with the relay\'s ? for control characters', () => {
    const failure = classify(69, 'ot accepted by the server\nmsmtp: server message: 451 4.3.0 tab?here\nmsmtp: could not send mail');
    assert.deepEqual([failure.temporary, failure.stage, failure.serverReply], [true, 'unknown', '451 4.3.0 tab?here']);
  });

  it('does not take a port or an address for a reply code', () => {
    const failure = classify(75, 'msmtp: cannot connect to 127.0.0.1, port 465: Connection refused');
    assert.equal(failure.serverReply, undefined);
    assert.equal(failure.stage, 'connect');
    assert.equal(classify(75, 'msmtp: cannot connect to ::1, port 25: Connection refused').stage, 'connect');
  });

  it('tells a missing configuration file (74, permanent) from a read time-out (74, temporary)', () => {
    assert.equal(classify(74, 'msmtp: /home/u/.msmtprc: No such file or directory').temporary, false);
    assert.equal(classify(74, 'msmtp: network read error: the operation timed out').temporary, true);
  });

  it('keeps a mail msmtp could not finish because it was stopped or crashed', () => {
    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGSEGV', 'SIGABRT']) {
      const failure = classify(null, '', signal);
      assert.deepEqual([failure.temporary, failure.stage], [true, 'command'], signal);
      assert.ok(failure.reason.includes(signal), failure.reason);
    }
    assert.match(classify(null, '', 'SIGSEGV').reason, /crashed/);
    assert.match(classify(null, '', 'SIGTERM').reason, /stopped/);
  });

  it('tells a command that is missing or not executable (permanent) from one that could not start (temporary)', () => {
    assert.deepEqual([classify(127, 'sh: 1: msmtp: not found').temporary, classify(127).reason], [false, 'command not found']);
    assert.deepEqual([classify(126).temporary, classify(126).reason], [false, 'command cannot be run']);
    assert.deepEqual([classify(-11).temporary, classify(-11).stage], [true, 'command']); // EAGAIN: no process free
    assert.deepEqual([classify(null).temporary, classify(null).stage], [true, 'command']);
  });

  it('describes a failure in one line with msmtp\'s own words, not its closing line', () => {
    const report = { exitCode: 65, signal: null, output: 'msmtp: recipient address a@b not accepted by the server\nmsmtp: server message: 550 5.1.1 No\nmsmtp: could not send mail (account default from /x)' };
    assert.equal(describeFailure(report), 'Recipient (RCPT TO) failed: msmtp: recipient address a@b not accepted by the server; server message: 550 5.1.1 No');
    assert.equal(describeFailure({ exitCode: null, signal: 'SIGKILL', output: '' }), 'Delivery command failed: msmtp was stopped (SIGKILL)');
    assert.equal(describeFailure({ exitCode: 78, signal: null, output: "sh: 1: pw: not found\nmsmtp: cannot read output of 'pw'" }),
      "Login failed: msmtp: cannot read output of 'pw'");
    assert.equal(describeFailure({ exitCode: 1, signal: null, output: '  \n' }), 'Delivery failed: delivery command failed (exit 1)');
  });
});
