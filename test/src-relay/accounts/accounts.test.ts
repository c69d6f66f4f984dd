import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { AccountSettings } from '../../../src-relay/index';
import { addAccount, listAccounts, removeAccount } from '../../../src-relay/accounts/accounts';
import { accountHome, uniqueAddress, type AccountHome } from '../../helpers/programs/account-home';
import { makeTestCa, startProvider, type Provider, type TestCa } from '../../helpers/smtp/provider';

let ca: TestCa;
/** One provider for the file: each test logs in as its own address, so the shared key ring keeps them apart. */
let perUser: Provider;
const PASSWORD = 'correct horse';
const users = new Map<string, string>();

before(async () => {
  ca = makeTestCa();
  perUser = await startProvider({ ca, mode: 'starttls', users });
});
after(async () => {
  await perUser.close();
  ca.remove();
});

let homes: AccountHome[] = [];
afterEach(() => {
  for (const home of homes) home.remove();
  homes = [];
});

function newHome(): AccountHome {
  const home = accountHome();
  homes.push(home);
  return home;
}

function settingsFor(address: string, extra: Partial<AccountSettings> = {}): AccountSettings {
  return { address, host: '127.0.0.1', port: perUser.port, tls: 'starttls', user: address, tlsTrustFile: ca.caPath, ...extra };
}

function register(address: string, password = PASSWORD): string {
  users.set(address, password);
  return address;
}

async function sendWithMsmtp(home: AccountHome, from: string, tag: string): Promise<{ code: number | null; stderr: string }> {
  return home.msmtp(['-f', from, '--', 'rcpt@example.test'], `Subject: ${tag}\n\n${tag}\n`);
}

describe('addAccount with the real msmtp and the key ring', () => {
  test('a new account: the block in ~/.msmtprc (0600), the password in the key ring, and msmtp sends with it', async () => {
    const home = newHome();
    const address = register(uniqueAddress('new'));
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.file, home.rc);
    assert.equal(result.updated, false);
    assert.equal(result.backup, null);
    assert.equal(statSync(home.rc).mode & 0o777, 0o600);
    const text = readFileSync(home.rc, 'utf8');
    assert.ok(!text.includes(PASSWORD), 'the password is not in the file');
    assert.match(text, new RegExp(`^account default : ${address.replace(/[.+]/g, '\\$&')}$`, 'm'), 'the first account becomes the default');
    assert.equal(await home.keyring.has('127.0.0.1', address), true);

    const sent = await sendWithMsmtp(home, address, 'through-the-new-account');
    assert.equal(sent.code, 0, sent.stderr);
    const mail = perUser.mails.find((m) => m.raw.includes('through-the-new-account'));
    assert.ok(mail, 'the provider got the mail');
    assert.equal(mail.user, address, 'msmtp logged in with the password from the key ring');

    const list = await listAccounts(home.seams);
    assert.deepEqual(list.accounts.map((a) => [a.name, a.appWritten, a.isDefault, a.password, a.from[0]]), [
      [address, true, false, 'keyring', address],
      ['default', true, true, 'keyring', address],
    ]);
  });

  test('two accounts added at once to one file: both are in it, and msmtp sends with each', async () => {
    const home = newHome();
    const first = register(uniqueAddress('first'));
    const second = register(uniqueAddress('second'));
    const results = await Promise.all([addAccount(settingsFor(first), PASSWORD, home.seams), addAccount(settingsFor(second), PASSWORD, home.seams)]);
    for (const result of results) assert.ok(result.ok, JSON.stringify(result));
    const names = (await listAccounts(home.seams)).accounts.map((a) => a.name);
    assert.ok(names.includes(first) && names.includes(second), names.join(', '));
    for (const [address, tag] of [[first, 'sent-as-first'], [second, 'sent-as-second']] as const) {
      const sent = await sendWithMsmtp(home, address, tag);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(perUser.mails.find((m) => m.raw.includes(tag))?.user, address);
    }
    assert.equal(existsSync(`${home.rc}.msmtp-relay.lock`), false, 'no lock file is left');
  });

  test('a wrong password changes nothing: no file, no key ring item', async () => {
    const home = newHome();
    const address = register(uniqueAddress('wrong'));
    const result = await addAccount(settingsFor(address), 'not it', home.seams);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.stage, 'login');
    assert.equal(!result.ok && result.login?.cause, 'wrong-password');
    assert.equal(existsSync(home.rc), false);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
  });

  test('adding the same address again updates its block and its key ring item', async () => {
    const home = newHome();
    const address = register(uniqueAddress('again'));
    assert.ok((await addAccount(settingsFor(address), PASSWORD, home.seams)).ok);
    register(address, 'a new password');
    const second = await addAccount(settingsFor(address), 'a new password', home.seams);
    assert.ok(second.ok, JSON.stringify(second));
    assert.equal(second.updated, true);
    assert.ok(second.backup && existsSync(second.backup));
    assert.equal(statSync(second.backup).mode & 0o777, 0o600);
    const text = readFileSync(home.rc, 'utf8');
    assert.equal(text.split('# msmtp-relay: begin account').length - 1, 1, 'one block');
    const sent = await sendWithMsmtp(home, address, 'after-the-update');
    assert.equal(sent.code, 0, sent.stderr);
  });

  test('an address of a hand-written account is refused, and the file stays as it was', async () => {
    const home = newHome();
    const address = register(uniqueAddress('hand'));
    const original = `account mine\nhost 127.0.0.1\nport ${perUser.port}\nfrom ${address.toUpperCase()}\n`;
    writeFileSync(home.rc, original, { mode: 0o600 });
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.stage, 'file');
    assert.match(!result.ok ? result.message : '', /hand-written account 'mine'/);
    assert.equal(readFileSync(home.rc, 'utf8'), original);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
  });

  test('an inherited passwordeval in defaults does not reach the new account', async () => {
    const home = newHome();
    const address = register(uniqueAddress('inherit'));
    const original = '# mine\ndefaults\nauth on\npasswordeval echo not-the-password\ntls_certcheck off\n\naccount other\nhost nowhere.invalid\nfrom other@example.test\n';
    writeFileSync(home.rc, original, { mode: 0o600 });
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.ok(result.ok, JSON.stringify(result));
    assert.ok(readFileSync(home.rc, 'utf8').startsWith(original));
    assert.doesNotMatch(readFileSync(home.rc, 'utf8'), /account default/, 'the file had an account: no default is set');
    assert.equal((await sendWithMsmtp(home, address, 'inherit')).code, 0);
  });

  test('msmtp refusing the written file puts the file back byte for byte and removes the key ring item', async () => {
    const home = newHome();
    const address = register(uniqueAddress('rollback'));
    const original = Buffer.from('# a comment\r\naccount mine\r\nhost 127.0.0.1\r\nfrom mine@example.test\r\n');
    writeFileSync(home.rc, original, { mode: 0o600 });
    const result = await addAccount(settingsFor(address), PASSWORD, {
      ...home.seams,
      pretend: () => Promise.resolve({ ok: false, error: 'msmtp: simulated refusal' }),
    });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.stage, 'msmtp');
    assert.deepEqual(readFileSync(home.rc), original);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
  });

  test('an earlier hand-written account whose pattern matches the address wins in msmtp: refused and rolled back', async () => {
    const home = newHome();
    const address = register(uniqueAddress('pattern'));
    const original = 'account catchall\nhost nowhere.invalid\nfrom *@example.test\n';
    writeFileSync(home.rc, original, { mode: 0o600 });
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.message : '', /through the account 'catchall'/);
    assert.equal(readFileSync(home.rc, 'utf8'), original);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
  });

  test('hostile values are refused before anything is written or stored', async () => {
    const home = newHome();
    const address = register(uniqueAddress('hostile'));
    const hostile: Partial<AccountSettings>[] = [
      { host: '127.0.0.1\nauth off' },
      { host: 'evil"host' },
      { host: 'host#comment' },
      { user: 'alice\r\npasswordeval evil' },
      { user: 'nul\0byte' },
      { user: 'x'.repeat(600) },
      { address: 'a"b@example.test' },
      { address: 'a#b@example.test' },
      { address: '*@example.test' },
      { address: 'a b@example.test' },
      { tlsTrustFile: '/tmp/ca.pem\ntls off' },
      { tlsFingerprint: 'AB:CD' },
      { port: 0 },
    ];
    for (const change of hostile) {
      const result = await addAccount(settingsFor(address, change), PASSWORD, home.seams);
      assert.equal(result.ok, false, JSON.stringify(change));
      assert.equal(!result.ok && result.stage, 'settings', JSON.stringify(change));
      assert.ok(!result.ok && result.message.length > 10);
    }
    assert.equal(existsSync(home.rc), false);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
    assert.equal(perUser.logins.filter((l) => l.user === address).length, 0, 'no login was tried');
  });

  test('a file with a byte order mark is refused with a clear message', async () => {
    const home = newHome();
    const address = register(uniqueAddress('bom'));
    writeFileSync(home.rc, '\uFEFFaccount x\nhost h\n', { mode: 0o600 });
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.equal(!result.ok && result.stage, 'file');
    assert.match(!result.ok ? result.message : '', /byte order mark/);
  });

  test('removeAccount takes out the block and the key ring item; msmtp no longer knows the address', async () => {
    const home = newHome();
    const address = register(uniqueAddress('remove'));
    const original = '# before\naccount mine\nhost 127.0.0.1\nfrom mine@example.test\n';
    writeFileSync(home.rc, original, { mode: 0o600 });
    assert.ok((await addAccount(settingsFor(address), PASSWORD, home.seams)).ok);
    const removed = await removeAccount(address, home.seams);
    assert.ok(removed.ok, JSON.stringify(removed));
    assert.equal(readFileSync(home.rc, 'utf8'), original);
    assert.equal(await home.keyring.has('127.0.0.1', address), false);
    assert.equal((await removeAccount('mine@example.test', home.seams)).ok, false, 'a hand-written account stays');
  });
});

describe("hand-written files around the app's block", () => {
  const cases: { name: string; text: string; froms: string[] }[] = [
    {
      name: 'comments, defaults and two accounts',
      text: '# my msmtp\n\ndefaults\ntls on\n# work\naccount work\nhost 127.0.0.1\nfrom work@example.test\n\naccount home : work\nfrom home@example.test\n',
      froms: ['work@example.test', 'home@example.test', 'nobody@example.test'],
    },
    {
      name: 'an implicit default account and no final newline',
      text: 'host 127.0.0.1\nfrom implicit@example.test',
      froms: ['implicit@example.test', 'other@example.test'],
    },
    {
      name: 'CRLF line ends and quoted values',
      text: '# windows\r\naccount "crlf"\r\nhost 127.0.0.1\r\nfrom crlf@example.test\r\nuser "  spaced  "\r\naccount default : crlf\r\n',
      froms: ['crlf@example.test', 'x@example.test'],
    },
  ];
  for (const { name, text, froms } of cases) {
    test(`${name}: every byte stays, the block follows, msmtp picks the same accounts as before`, async () => {
      const home = newHome();
      writeFileSync(home.rc, text, { mode: 0o600 });
      const before = await Promise.all(froms.map((from) => pretendLines(home, from)));
      const address = register(uniqueAddress('around'));
      const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
      assert.ok(result.ok, JSON.stringify(result));
      const after = readFileSync(home.rc, 'utf8');
      const crlf = text.includes('\r\n');
      assert.ok(after.startsWith(text), 'the user\'s bytes come first, unchanged');
      const added = after.slice(text.length);
      if (crlf) assert.doesNotMatch(added.replace(/\r\n/g, ''), /\n/, 'the block uses the file\'s CRLF');
      assert.deepEqual(await Promise.all(froms.map((from) => pretendLines(home, from))), before);
      assert.match(await pretendLines(home, address), new RegExp(`using account ${address.replace(/[.+]/g, '\\$&')} from`));
    });
  }

  test('a symlinked ~/.msmtprc stays a symlink; its target gets the block', async () => {
    const home = newHome();
    mkdirSync(join(home.home, 'dotfiles'), { mode: 0o700 });
    const target = join(home.home, 'dotfiles', 'msmtprc');
    const text = 'account linked\nhost 127.0.0.1\nfrom linked@example.test\n';
    writeFileSync(target, text, { mode: 0o600 });
    symlinkSync(target, home.rc);
    const address = register(uniqueAddress('link'));
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.ok(result.ok, JSON.stringify(result));
    assert.ok(lstatSync(home.rc).isSymbolicLink());
    assert.ok(readFileSync(target, 'utf8').startsWith(text));
    assert.match(readFileSync(target, 'utf8'), /# msmtp-relay: begin account/);
    assert.ok(result.backup?.startsWith(target), 'the backup sits beside the target');
    assert.deepEqual(readdirSync(join(home.home, 'dotfiles')).filter((f) => f.endsWith('.tmp')), []);
    assert.equal((await sendWithMsmtp(home, address, 'through-the-link')).code, 0);
  });

  test('$XDG_CONFIG_HOME/msmtp/config is used when ~/.msmtprc does not exist', async () => {
    const home = newHome();
    const dir = join(home.home, '.config', 'msmtp');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'config'), '# xdg\n', { mode: 0o600 });
    const address = register(uniqueAddress('xdg'));
    const result = await addAccount(settingsFor(address), PASSWORD, home.seams);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.file, join(dir, 'config'));
    assert.equal(existsSync(home.rc), false);
  });
});

/** What msmtp --pretend says about the account for an address (without the password line). */
async function pretendLines(home: AccountHome, from: string): Promise<string> {
  const ran = await home.msmtp(['--pretend', '-f', from]);
  return `${ran.code}\n${ran.stdout}${ran.stderr}`;
}
