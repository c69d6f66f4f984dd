import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { KeyringError, msmtpKeyring } from '../../../src-relay/accounts/msmtp-keyring';
import { uniqueAddress } from '../../helpers/programs/account-home';

/** The items with msmtp's three attributes, counted over D-Bus (no secret is read). */
function itemCount(host: string, user: string): number {
  const escape = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const out = execFileSync('gdbus', ['call', '--session', '--dest', 'org.freedesktop.secrets', '--object-path',
    '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.SearchItems',
    `{'host': ${escape(host)}, 'service': 'smtp', 'user': ${escape(user)}}`], { encoding: 'utf8' });
  return (out.match(/'\/org\/freedesktop\/secrets\/collection\/[^']+'/g) ?? []).length;
}

describe('the key ring item msmtp reads (Secret Service, in a private gnome-keyring)', () => {
  const keyring = msmtpKeyring('linux');

  test('store replaces the one item; msmtp-style lookup gets the newest password; remove clears it', () => {
    const user = uniqueAddress('keyring');
    return (async () => {
      await keyring.store('smtp.example.test', user, 'first');
      await keyring.store('smtp.example.test', user, 'second');
      assert.equal(itemCount('smtp.example.test', user), 1, 'one item, replaced');
      assert.equal(await keyring.has('smtp.example.test', user), true);
      // The lookup msmtp does (libsecret, these three attributes); secret-tool prints exactly the stored bytes.
      assert.equal(execFileSync('secret-tool', ['lookup', 'host', 'smtp.example.test', 'service', 'smtp', 'user', user], { encoding: 'utf8' }), 'second');
      await keyring.remove('smtp.example.test', user);
      assert.equal(await keyring.has('smtp.example.test', user), false);
      await keyring.remove('smtp.example.test', user); // nothing to remove is not an error
    })();
  });

  test("a user with quotes and backslashes is searched exactly (GVariant escaping), not another item", async () => {
    const user = `o'brien\\${uniqueAddress('quote')}`;
    assert.equal(await keyring.has('smtp.example.test', user), false);
    await keyring.store('smtp.example.test', user, 'pw');
    assert.equal(await keyring.has('smtp.example.test', user), true);
    assert.equal(await keyring.has('smtp.example.test', user.replace("'", '')), false);
    await keyring.remove('smtp.example.test', user);
  });

  test('Windows: msmtp reads no key ring, said plainly', async () => {
    const windows = msmtpKeyring('win32');
    await assert.rejects(windows.store('h', 'u', 'p'), (error: unknown) => error instanceof KeyringError && error.unsupported && /passwordeval/.test(error.message));
  });
});
