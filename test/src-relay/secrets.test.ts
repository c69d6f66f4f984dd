import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createKeyringStore, findPassword, PasswordError, runPasswordEval, type SecretStore } from '../../src-relay/secrets';
import { freePort } from '../helpers/ports';
import { assertOneErrorLine, CliProcess, readText,  runCli, waitForLogLine } from '../helpers/relay/cli-process';
import { REPO_ROOT } from '../helpers/paths';
import { connectSmtp } from '../helpers/smtp/smtp-client';

// A private D-Bus session with an unlocked throwaway gnome-keyring: `npm test`, or
// `bash scripts/with-keyring.sh node --test out/test/secrets.test.js`.
const noKeyring = process.env.DBUS_SESSION_BUS_ADDRESS ? false : 'needs a key ring: run under scripts/with-keyring.sh';
const unique = () => randomBytes(4).toString('hex');

let tmp: string;
const cleanups: (() => void)[] = [];
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'msmtp-relay-secrets-'));
});
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

/** What msmtpd's man page tells users to run, fed on stdin instead of typed. */
function secretToolStore(attributes: string[], password: string): void {
  const result = spawnSync('secret-tool', ['store', '--label=msmtpd', ...attributes], { input: password, timeout: 10_000 });
  assert.equal(result.status, 0, `secret-tool store: ${String(result.stderr)}`);
  cleanups.push(() => spawnSync('secret-tool', ['clear', ...attributes], { timeout: 10_000 }));
}

function plain(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

describe('passwordeval', () => {
  const options = { timeoutMs: 5000, interactive: false };

  test("msmtpd's rules: the first line, without CR LF, whatever the exit status", async () => {
    assert.equal(await runPasswordEval("printf 'pw one\\r\\nsecond\\n'; exit 3", options), 'pw one');
    assert.equal(await runPasswordEval("printf '  spaces kept  '", options), '  spaces kept  ');
  });

  test('no output is an error that names the command; an empty first line too', async () => {
    await assert.rejects(runPasswordEval('true', options), (error) =>
      error instanceof PasswordError && error.message === "cannot get password: cannot read output of 'true'");
    await assert.rejects(runPasswordEval('echo; echo second', options), /the first line of output of 'echo; echo second' is empty/);
  });

  test('bounded: a command that hangs is killed; one that printed its line first still counts', async () => {
    const started = Date.now();
    await assert.rejects(runPasswordEval('sleep 5', { ...options, timeoutMs: 300 }), /cannot read output of 'sleep 5' \(no output within 0.3 s\)/);
    assert.equal(await runPasswordEval('echo early-pw; sleep 5', { ...options, timeoutMs: 300 }), 'early-pw');
    assert.ok(Date.now() - started < 3000, 'both gave up after their timeout');
  });

  test('not interactive: the command cannot read our stdin (in inetd mode that is the SMTP client)', () => {
    // In a child whose stdin holds an SMTP line: an inherited stdin would make `cat` print it as the password.
    const script = `require(${JSON.stringify(join(REPO_ROOT, 'out', 'src-relay', 'secrets.js'))})` +
      ".runPasswordEval('cat', { timeoutMs: 5000, interactive: false }).then((pw) => console.log('got ' + pw), (e) => console.log(e.message))";
    const result = spawnSync(process.execPath, ['-e', script], { input: 'EHLO client.example\n', encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.stdout.trim(), "cannot get password: cannot read output of 'cat'");
  });
});

describe('key ring (real gnome-keyring in a private D-Bus session)', { skip: noKeyring }, () => {
  test('createKeyringStore: set, get, delete through keytar', async () => {
    const store = createKeyringStore(`msmtp-relay-test-${unique()}`);
    const user = `user-${unique()}`;
    assert.equal(await store.get(user), null);
    await store.set(user, 'pw with spaces & ünïcode');
    assert.equal(await store.get(user), 'pw with spaces & ünïcode');
    await store.set(user, 'replaced');
    assert.equal(await store.get(user), 'replaced');
    assert.equal(await store.delete(user), true);
    assert.equal(await store.get(user), null);
    assert.equal(await store.delete(user), false);
  });

  test('an unreachable Secret Service is a KeyringUnavailableError', () => {
    const script = `require(${JSON.stringify(join(REPO_ROOT, 'out', 'src-relay', 'secrets.js'))}).createKeyringStore('x').get('y')` +
      '.then((v) => console.log("found", v), (e) => console.log(e.name + ": " + e.message))';
    const result = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.match(result.stdout, /^KeyringUnavailableError: key ring not reachable for lookup \(/);
  });

  test("findPassword finds msmtp's own entry (secret-tool, msmtpd's attributes), trailing newline dropped", async () => {
    const user = `msmtpd-user-${unique()}`;
    secretToolStore(['host', 'localhost', 'service', 'smtp', 'user', user], 'from-secret-tool\n');
    const emptyStore = createKeyringStore(`msmtp-relay-test-${unique()}`);
    assert.deepEqual(await findPassword(user, { interactive: false, store: emptyStore }), { password: 'from-secret-tool', source: 'msmtp-keyring' });
  });

  test('findPassword finds the legacy NetworkPassword attributes too', async () => {
    const user = `legacy-${unique()}`;
    secretToolStore(['user', user, 'protocol', 'smtp', 'server', 'localhost'], 'legacy-pw');
    const emptyStore = createKeyringStore(`msmtp-relay-test-${unique()}`);
    assert.deepEqual(await findPassword(user, { interactive: false, store: emptyStore }), { password: 'legacy-pw', source: 'msmtp-keyring' });
  });

  test("the app's own entry comes first; a passwordeval before both", async () => {
    const user = `both-${unique()}`;
    const store: SecretStore = createKeyringStore(`msmtp-relay-test-${unique()}`);
    secretToolStore(['host', 'localhost', 'service', 'smtp', 'user', user], 'msmtp-pw');
    await store.set(user, 'app-pw');
    cleanups.push(() => void store.delete(user));
    assert.deepEqual(await findPassword(user, { interactive: false, store }), { password: 'app-pw', source: 'app-keyring' });
    assert.deepEqual(await findPassword(user, { interactive: false, store, passwordEval: 'echo eval-pw' }), { password: 'eval-pw', source: 'passwordeval' });
  });

  test('nothing anywhere and no terminal: a clear error', async () => {
    const user = `nobody-${unique()}`;
    await assert.rejects(findPassword(user, { interactive: false, store: createKeyringStore(`msmtp-relay-test-${unique()}`) }), (error) =>
      error instanceof PasswordError &&
      error.message === `cannot get password for (localhost, smtp, ${user}): not in the key ring; no terminal to ask on`);
  });

  test("the CLI: --auth=USER with msmtp's entry, then with the app's entry, and without any entry", async () => {
    const msmtpUser = `msmtpd-user-${unique()}`;
    secretToolStore(['host', 'localhost', 'service', 'smtp', 'user', msmtpUser], 'msmtp-keyring-pw');
    const appUser = `app-user-${unique()}`;
    const appStore = createKeyringStore(); // the service the desktop app and the CLI share: 'msmtp-relay'
    await appStore.set(appUser, 'app-keyring-pw');
    cleanups.push(() => void appStore.delete(appUser));

    for (const [user, password, source] of [
      [msmtpUser, 'msmtp-keyring-pw', "msmtp's key ring entry"],
      [appUser, 'app-keyring-pw', "msmtp-relay's key ring entry"],
    ] as const) {
      const port = await freePort();
      const log = join(tmp, `${user}.log`);
      const cli = CliProcess.start([`--auth=${user}`, `--port=${port}`, `--log=${log}`, "--command=sh -c 'cat >/dev/null' sh"]);
      cleanups.push(() => cli.kill());
      await waitForLogLine(log, /listening on/, 10_000);
      assert.match(readText(log), new RegExp(`auth required for user ${user} \\(password from ${source}\\)`));
      const client = await connectSmtp(port);
      await client.command('EHLO keyring.test');
      assert.equal((await client.command(`AUTH PLAIN ${plain(user, password)}`)).code, 235);
      assert.equal((await client.command('QUIT')).code, 221);
      client.destroy();
      assert.equal((await cli.stop()).code, 0);
      assert.ok(!readText(log).includes(password), 'the password is not in the log');
    }

    const missing = `nobody-${unique()}`;
    const result = await runCli([`--auth=${missing}`, '--command=cat'], { timeoutMs: 40_000 });
    assert.equal(result.code, 3);
    assert.equal(assertOneErrorLine(result.stderr),
      `msmtp-relay: cannot get password for (localhost, smtp, ${missing}): not in the key ring; no terminal to ask on`);
  });
});
