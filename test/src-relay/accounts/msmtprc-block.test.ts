import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planAccountRemoval, planAccountWrite } from '../../../src-relay/accounts/msmtprc-block';
import { parseMsmtprc, type AccountSettings } from '../../../src-relay/index';
import { msmtpSees } from '../../helpers/programs/account-home';

const base: AccountSettings = { address: 'me@example.test', host: 'smtp.example.test', port: 587, tls: 'starttls', user: 'me@example.test' };

describe('the block the app writes', () => {
  test('values msmtp trims or unquotes are quoted so msmtp reads them back unchanged', async () => {
    for (const user of ['  spaced  ', '"quoted"', 'has#hash', 'a"b', '\'single\'', 'ünïcödé']) {
      const plan = planAccountWrite(parseMsmtprc(''), { ...base, user });
      const seen = await msmtpSees(plan.text, base.address);
      assert.equal(seen.code, 0, seen.out);
      assert.ok(seen.out.includes(`\nuser = ${user}\n`), `${JSON.stringify(user)}: ${seen.out}`);
    }
  });

  test('pins tls, auth and the trust file; clears password and passwordeval that defaults set', async () => {
    const text = 'defaults\nauth off\ntls off\ntls_trust_file /nonexistent\npasswordeval echo x\npassword y\n';
    const plan = planAccountWrite(parseMsmtprc(text), base);
    assert.ok(plan.text.startsWith(text));
    const seen = await msmtpSees(plan.text, base.address);
    for (const line of ['auth = choose', 'tls = on', 'tls_starttls = on', 'tls_trust_file = system', 'password = (not set)', 'passwordeval = (not set)', 'tls_certcheck = on']) {
      assert.ok(seen.out.includes(`\n${line}\n`), `${line}: ${seen.out}`);
    }
  });

  test('a name already taken by a hand-written account gets a suffix; the update keeps the name', () => {
    const model = parseMsmtprc('account me@example.test\nfrom someone@else.test\n');
    const plan = planAccountWrite(model, base);
    assert.equal(plan.name, 'me@example.test-2');
    const again = planAccountWrite(parseMsmtprc(plan.text), { ...base, port: 465, tls: 'tls' });
    assert.equal(again.updated, true);
    assert.equal(again.name, 'me@example.test-2');
    assert.match(again.text, /^tls_starttls off$/m);
    assert.equal(planAccountRemoval(parseMsmtprc(again.text), base.address)?.text, 'account me@example.test\nfrom someone@else.test\n');
  });

  test('a block whose end marker was removed by hand is a hand-written account', () => {
    const plan = planAccountWrite(parseMsmtprc(''), base);
    const edited = plan.text.replace(/^# msmtp-relay: end account .*\n/m, '');
    assert.throws(() => planAccountWrite(parseMsmtprc(edited), base), /hand-written account/);
  });

  test('a value longer than msmtp\'s line is refused', () => {
    assert.throws(() => planAccountWrite(parseMsmtprc(''), { ...base, user: 'u'.repeat(481) }), /too long/);
    assert.doesNotThrow(() => planAccountWrite(parseMsmtprc(''), { ...base, user: 'u'.repeat(480) }));
  });
});
