import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { accountHome, uniqueAddress, type AccountHome } from '../../helpers/programs/account-home';
import { runCli } from '../../helpers/relay/cli-process';
import { makeTestCa, startProvider, type Provider, type TestCa } from '../../helpers/smtp/provider';

let ca: TestCa;
let provider: Provider;
const users = new Map<string, string>();
before(async () => {
  ca = makeTestCa();
  provider = await startProvider({ ca, mode: 'starttls', users });
});
after(async () => {
  await provider.close();
  ca.remove();
});
let homes: AccountHome[] = [];
afterEach(() => {
  for (const home of homes) home.remove();
  homes = [];
});

function setup(tag: string, password = 'S3cret-cli-pw'): { home: AccountHome; address: string } {
  const home = accountHome();
  homes.push(home);
  const address = uniqueAddress(tag);
  users.set(address, password);
  return { home, address };
}

function addArgs(address: string, port = provider.port): string[] {
  return [`--add-account=${address}`, '--account-host=127.0.0.1', `--account-port=${port}`, '--account-tls=starttls',
    `--account-tls-trust-file=${ca.caPath}`];
}

const blocks = (text: string) => text.split('# msmtp-relay: begin account').length - 1;

describe('msmtp-relay --add-account', () => {
  test('adds the account from a password on stdin (one final newline dropped); the real msmtp then sends with it', async () => {
    const { home, address } = setup('cli-add');
    const added = await runCli(addArgs(address), { env: home.env, input: 'S3cret-cli-pw\n', timeoutMs: 30_000 });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added account /);
    assert.ok(!added.stdout.includes('S3cret-cli-pw') && !added.stderr.includes('S3cret-cli-pw'), 'the password is not printed');
    const sent = await home.msmtp(['-f', address, '--', 'rcpt@example.test'], 'Subject: cli\n\ncli-add-mail\n');
    assert.equal(sent.code, 0, sent.stderr);
    assert.ok(provider.mails.some((mail) => mail.user === address && mail.raw.includes('cli-add-mail')));

    const listed = await runCli(['--list-accounts'], { env: home.env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${address.replace(/[.+]/g, '\\$&')}: from .*password: keyring \\(written by msmtp Relay\\)$`, 'm'));
  });

  test('a wrong password exits 65 and changes nothing', async () => {
    const { home, address } = setup('cli-wrong');
    const result = await runCli(addArgs(address), { env: home.env, input: 'not the password', timeoutMs: 30_000 });
    assert.equal(result.code, 65, result.stderr);
    assert.match(result.stderr, /refused the user name or password.*535.*nothing was changed/);
    assert.equal(existsSync(home.rc), false);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
  });

  test('adding the same address again updates the one block and the key ring item', async () => {
    const { home, address } = setup('cli-again', 'first');
    assert.equal((await runCli(addArgs(address), { env: home.env, input: 'first', timeoutMs: 30_000 })).code, 0);
    users.set(address, 'second');
    const again = await runCli(addArgs(address), { env: home.env, input: 'second\n', timeoutMs: 30_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^updated account /);
    assert.equal(blocks(readFileSync(home.rc, 'utf8')), 1);
    const sent = await home.msmtp(['-f', address, '--', 'rcpt@example.test'], 'Subject: again\n\nagain\n');
    assert.equal(sent.code, 0, 'msmtp logs in with the updated key ring item');
  });

  test('an address of a hand-written account exits 73 and leaves the file alone', async () => {
    const { home, address } = setup('cli-hand');
    const text = `account mine\nhost 127.0.0.1\nfrom ${address}\n`;
    writeFileSync(home.rc, text, { mode: 0o600 });
    const result = await runCli(addArgs(address), { env: home.env, input: 'S3cret-cli-pw', timeoutMs: 30_000 });
    assert.equal(result.code, 73, result.stderr);
    assert.match(result.stderr, /hand-written account 'mine'/);
    assert.equal(readFileSync(home.rc, 'utf8'), text);
  });

  test('nothing listening exits 74; usage errors exit 64', async () => {
    const { home, address } = setup('cli-codes');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await runCli(addArgs(address, port), { env: home.env, input: 'pw', timeoutMs: 30_000 });
    assert.equal(refused.code, 74, refused.stderr);
    // Without --account-host the settings are looked up; the test seam keeps every step on loopback (nothing mapped).
    const seams = join(home.home, 'no-network.json');
    writeFileSync(seams, '{}');
    const unfound = await runCli([`--add-account=${address}`], { env: { ...home.env, MSMTP_RELAY_TEST_LOOKUP_SEAMS: seams }, input: 'pw', timeoutMs: 30_000 });
    assert.equal(unfound.code, 69, unfound.stderr);
    assert.match(unfound.stderr, /no settings found for .*give them with --account-host/);
    assert.equal((await runCli([...addArgs(address), '--account-tls=ssl'], { env: home.env, input: 'pw' })).code, 64);
    assert.equal((await runCli(['--account-host=x'], { env: home.env })).code, 64);
    const hostile = await runCli([...addArgs(address), '--account-user=a\nauth off'], { env: home.env, input: 'pw' });
    assert.equal(hostile.code, 64, hostile.stderr);
    assert.equal(existsSync(home.rc), false);
  });

  test('--remove-account removes the block and the key ring item', async () => {
    const { home, address } = setup('cli-remove');
    assert.equal((await runCli(addArgs(address), { env: home.env, input: 'S3cret-cli-pw', timeoutMs: 30_000 })).code, 0);
    const removed = await runCli([`--remove-account=${address}`], { env: home.env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(blocks(readFileSync(home.rc, 'utf8')), 0);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
  });
});
