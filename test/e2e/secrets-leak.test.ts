import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quote } from 'shell-quote';
import { createKeyringStore, describeEvent, type RelayEvent } from '../../src-relay/index';
import { runCli } from '../helpers/relay/cli-process';
import { waitUntil } from '../helpers/wait';
import { CliProcess } from '../helpers/relay/cli-process';
import { freePort } from '../helpers/ports';
import { recordCommand, startRelayHarness } from '../helpers/relay/relay-harness';
import { connectSmtp, type SmtpTestClient } from '../helpers/smtp/smtp-client';
import { createAppCore, type AppCore } from '../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../helpers/app/app-core';

// Whole AUTH sessions (PLAIN and LOGIN, right and wrong passwords, a password typed into the user field), then a
// search for the password in every form a client sends it: plain, base64, and inside a base64 PLAIN blob. It must
// be in no event, no log file, no syslog line, no error message, and nothing the desktop app keeps for its Logs pane.

const USER = 'relay-user';
const PASSWORD = `Tr0ub4dor-${process.pid}-secret`;
const WRONG = [`${PASSWORD}x`, `wrong-${process.pid}-guess`];
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/**
 * Every shape in which a secret travels: as typed, base64 (LOGIN), and the PLAIN blobs a client builds around it.
 * The blobs embed the user name, so they must be built with the user the sessions actually sent, or the exact
 * bytes on the wire are never searched for.
 */
function secretForms(user: string): string[] {
  return [PASSWORD, ...WRONG].flatMap((secret) => [
    secret,
    b64(secret),
    b64(`\0${user}\0${secret}`),
    b64(`${user}\0${user}\0${secret}`),
    b64(`\0${secret}\0${secret}`),
  ]);
}

function assertNoSecret(where: string, text: string, user: string = USER): void {
  assert.ok(text.length > 0, `${where}: nothing to search (the check would prove nothing)`);
  // Case-blind: an SMTP verb is upper-cased before it is logged, and upper-cased base64 still gives most of it away.
  const haystack = text.toLowerCase();
  for (const form of secretForms(user)) {
    assert.ok(!haystack.includes(form.toLowerCase()), `${where} contains a password form ${JSON.stringify(form)}:\n${text.slice(0, 2000)}`);
  }
}

async function expectCode(client: SmtpTestClient, line: string, code: number): Promise<void> {
  const reply = await client.command(line);
  assert.equal(reply.code, code, `${line.slice(0, 40)} -> ${reply.raw}`);
}

/** The sessions every part of this test runs against a relay: raw SMTP, so each byte is known. */
async function authSessions(port: number): Promise<void> {
  const mail = async (client: SmtpTestClient) => {
    await expectCode(client, 'MAIL FROM:<ann@example.org>', 250);
    await expectCode(client, 'RCPT TO:<bob@example.net>', 250);
    await expectCode(client, 'DATA', 354);
    await expectCode(client, 'Subject: after auth\r\n\r\nhello\r\n.', 250);
  };
  const session = async (work: (client: SmtpTestClient) => Promise<void>) => {
    const client = await connectSmtp(port);
    try {
      await expectCode(client, 'EHLO secrets.test', 250);
      await work(client);
      await expectCode(client, 'QUIT', 221);
    } finally {
      client.destroy();
    }
  };
  // PLAIN with an initial response, right password, and a mail.
  await session(async (c) => {
    await expectCode(c, `AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`, 235);
    await mail(c);
  });
  // PLAIN after a 334, wrong; then LOGIN, right, with an authzid-less retry in between.
  await session(async (c) => {
    await expectCode(c, 'AUTH PLAIN', 334);
    await expectCode(c, b64(`\0${USER}\0${WRONG[0]}`), 535);
    await expectCode(c, 'AUTH LOGIN', 334);
    await expectCode(c, b64(USER), 334);
    await expectCode(c, b64(PASSWORD), 235);
    await mail(c);
  });
  // LOGIN with the user as initial response, wrong password; PLAIN with an authzid, right.
  await session(async (c) => {
    await expectCode(c, `AUTH LOGIN ${b64(USER)}`, 334);
    await expectCode(c, b64(WRONG[1]!), 535);
    await expectCode(c, `AUTH PLAIN ${b64(`${USER}\0${USER}\0${PASSWORD}`)}`, 235);
  });
  // A user who typed the password into the user name field too: PLAIN and LOGIN.
  await session(async (c) => {
    await expectCode(c, `AUTH PLAIN ${b64(`\0${PASSWORD}\0${PASSWORD}`)}`, 535);
  });
  await session(async (c) => {
    await expectCode(c, 'AUTH LOGIN', 334);
    await expectCode(c, b64(PASSWORD), 334);
    await expectCode(c, b64(PASSWORD), 535);
  });
  // A client that pipelines its LOGIN answers: AUTH is refused (no EHLO yet), so the answers arrive as commands.
  const eager = await connectSmtp(port);
  try {
    eager.send(`AUTH LOGIN\r\n${b64(USER)}\r\n${b64(PASSWORD)}\r\nAUTH PLAIN\r\n${b64(`\0${USER}\0${PASSWORD}`)}\r\nQUIT\r\n`);
    assert.deepEqual((await eager.readReplies(6)).map((reply) => reply.code), [503, 530, 530, 503, 530, 221]);
  } finally {
    eager.destroy();
  }
}

/** Real mail clients too: swaks with PLAIN (right) and LOGIN (wrong). */
function swaks(port: number, method: 'PLAIN' | 'LOGIN', password: string): Promise<string> {
  return new Promise((resolvePromise) => {
    execFile(
      'swaks',
      ['--server', `127.0.0.1:${port}`, '--from', 'ann@example.org', '--to', 'bob@example.net', '--auth', method,
        '--auth-user', USER, '--auth-password', password, '--timeout', '10', '--silent', '1'],
      { timeout: 20_000 },
      (_error, stdout, stderr) => resolvePromise(`${stdout}${stderr}`),
    );
  });
}

describe('the password never leaks', () => {
  it('engine events and their log sentences, across PLAIN and LOGIN, right and wrong, and real clients', { timeout: 30_000 }, async () => {
    const relay = await startRelayHarness({ options: { auth: { user: USER, password: PASSWORD }, authFailureDelayMs: 20, maxAuthFailures: 5 } });
    try {
      await authSessions(relay.port);
      await swaks(relay.port, 'PLAIN', PASSWORD);
      await swaks(relay.port, 'LOGIN', WRONG[1]!);
      await relay.waitForEvent((e) => e.type === 'session-close' && relay.events.filter((x) => x.type === 'session-close').length >= 8, 5000);
      const auths = relay.events.filter((e): e is Extract<RelayEvent, { type: 'auth' }> => e.type === 'auth');
      assert.equal(auths.filter((e) => e.ok).length, 4, 'the right answers authenticated');
      assert.equal(auths.filter((e) => !e.ok).length, 5, 'the wrong ones did not');
      assert.equal(relay.recordings().length, 3);
      assertNoSecret('events', JSON.stringify(relay.events));
      assertNoSecret('log sentences', relay.events.map((e) => describeEvent(e).message).join('\n'));
    } finally {
      await relay.close();
    }
  });

  describe('the CLI', () => {
    let dir: string;
    let passwordFile: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'relay-secrets-'));
      passwordFile = join(dir, 'password');
      writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const cliArgs = (records: string) => [
      `--auth=${USER},cat ${passwordFile}`, '--auth-delay=0', `--command=${quote(recordCommand(records))}`,
    ];

    it('--log=FILE: no password in the log file, on stderr or stdout', { timeout: 30_000 }, async () => {
      const records = mkdtempSync(join(dir, 'records-'));
      const log = join(dir, 'relay.log');
      const port = await freePort();
      const cli = await CliProcess.listening(port, [...cliArgs(records), `--log=${log}`]);
      try {
        await authSessions(port);
        await swaks(port, 'LOGIN', WRONG[0]!);
      } finally {
        assert.equal((await cli.stop()).code, 0);
      }
      const text = readFileSync(log, 'utf8');
      assert.match(text, /authentication failed for user relay-user/, 'the log holds the auth lines this test is about');
      assert.match(text, /authenticated user relay-user/);
      assertNoSecret('log file', text);
      assert.ok(!cli.stderr.includes(PASSWORD), 'stderr');
    });

    it('--log=syslog: no password in any line handed to logger', { timeout: 30_000 }, async () => {
      const records = mkdtempSync(join(dir, 'records-'));
      const fakeBin = mkdtempSync(join(dir, 'bin-'));
      const lines = mkdtempSync(join(dir, 'syslog-'));
      // A `logger` that keeps its arguments and every line it is given, one file per process.
      writeFileSync(join(fakeBin, 'logger'), `#!/bin/sh\nprintf '%s\\n' "$*" > ${lines}/args.$$\nexec cat > ${lines}/lines.$$\n`);
      chmodSync(join(fakeBin, 'logger'), 0o755);
      const previousPath = process.env.PATH;
      process.env.PATH = `${fakeBin}:${previousPath}`;
      const port = await freePort();
      let cli;
      try {
        cli = await CliProcess.listening(port, [...cliArgs(records), '--log=syslog']);
      } finally {
        process.env.PATH = previousPath;
      }
      try {
        await authSessions(port);
      } finally {
        assert.equal((await cli.stop()).code, 0);
      }
      const text = readdirSync(lines).map((name) => readFileSync(join(lines, name), 'utf8')).join('\n');
      assert.match(text, /-p mail\.(info|err)/, 'our logger was the one used');
      assert.match(text, /authentication failed for user relay-user/);
      assertNoSecret('syslog lines', text);
    });

    it('start-up errors after the password was read (port taken; a passwordeval that fails) do not repeat it', { timeout: 30_000 }, async () => {
      const run = (args: string[]) => runCli(['--interface=127.0.0.1', ...args, '--command=/bin/true'], { timeoutMs: 20_000 });
      const taken = createServer();
      await new Promise<void>((resolveListen) => taken.listen(0, '127.0.0.1', resolveListen));
      try {
        const port = (taken.address() as AddressInfo).port;
        const busy = await run([`--port=${port}`, `--auth=${USER},cat ${passwordFile}`]);
        assert.equal(busy.code, 3);
        assert.match(busy.stderr, /cannot bind/);
        assertNoSecret('port-in-use error', busy.stderr);
      } finally {
        taken.close();
      }
      // The eval writes the password to its stderr (which it shares with us, for pinentry) and nothing to stdout.
      const failed = await run([`--port=${await freePort()}`, `--auth=${USER},cat ${passwordFile} >&2; exit 1`]);
      assert.equal(failed.code, 3);
      const ours = failed.stderr.split('\n').filter((line) => line.startsWith('msmtp-relay:')).join('\n');
      assert.match(ours, /cannot get password/);
      assertNoSecret('passwordeval error', ours);
    });
  });

  it("the desktop app's relay host: its log buffer and status (what the Logs pane shows)", { timeout: 60_000 }, async () => {
    const secrets = createKeyringStore();
    const user = `${USER}-${process.pid}`;
    const records = mkdtempSync(join(tmpdir(), 'relay-secrets-app-'));
    let core: AppCore | null = null;
    try {
      await secrets.set(user, PASSWORD);
      core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0 } });
      const status = await startWith(core, { command: quote(recordCommand(records)), host: '127.0.0.1', port: 0, user, launchAtLogin: false, keepUnsent: true, tls: false, notifications: false });
      assert.equal(status.state, 'running', status.error);
      const client = await connectSmtp(status.port);
      try {
        await expectCode(client, 'EHLO app.test', 250);
        await expectCode(client, `AUTH PLAIN ${b64(`\0${user}\0${WRONG[0]}`)}`, 535);
        await expectCode(client, `AUTH PLAIN ${b64(`\0${PASSWORD}\0${PASSWORD}`)}`, 535);
        await expectCode(client, `AUTH PLAIN ${b64(`\0${user}\0${PASSWORD}`)}`, 235);
        await expectCode(client, 'QUIT', 221);
      } finally {
        client.destroy();
      }
      // Events reach the buffer asynchronously; without the success line the buffer may be incomplete.
      const running = core;
      await waitUntil(() => running.log.recent().some((entry) => /authenticated user/.test(entry.message)), 5000, 'the "authenticated user" log line');
      const log = JSON.stringify(core.log.recent());
      assert.match(log, /authentication failed/);
      assertNoSecret('relay host log buffer', log, user);
      assertNoSecret('relay host status', JSON.stringify(core.status.current()), user);
    } finally {
      await core?.relay.shutdown();
      await secrets.delete(user).catch(() => false);
      rmSync(records, { recursive: true, force: true });
    }
  });
});
