import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMsmtprc } from '../../../src-relay/accounts/msmtprc-parse';
import { msmtpSees } from '../../helpers/programs/account-home';

describe('parseMsmtprc models what msmtp reads', () => {
  test('defaults apply to later accounts only; account X : Y takes what Y set itself; quotes and CRLF', () => {
    const model = parseMsmtprc([
      'host early', 'defaults', 'port 2525', '# comment', '  account   one  ', 'host one.test', 'from "one@example.test"',
      'defaults', 'tls on', 'account two : one', 'user " two "', 'account default : two', '',
    ].join('\r\n'));
    assert.equal(model.eol, '\r\n');
    assert.deepEqual(model.accounts.map((a) => a.name), ['default', 'one', 'two'], 'the implicit default first');
    const [implicit, one, two] = model.accounts;
    assert.equal(implicit!.settings.get('host'), 'early');
    assert.equal(one!.settings.get('port'), '2525');
    assert.equal(one!.settings.get('from'), 'one@example.test');
    assert.equal(one!.settings.get('tls'), undefined, 'a later defaults does not reach an earlier account');
    assert.equal(two!.settings.get('host'), 'one.test');
    assert.equal(two!.settings.get('tls'), 'on');
    assert.equal(two!.settings.get('user'), ' two ');
    assert.match(model.problem ?? '', /account default was already defined/, 'the implicit account took the name default');
  });

  test('what msmtp refuses: a BOM, a line over 499 bytes, a duplicate, an unknown parent, eval', () => {
    assert.match(parseMsmtprc('\uFEFFaccount a\n').problem ?? '', /byte order mark/);
    assert.equal(parseMsmtprc(`# ${'x'.repeat(497)}\n`).problem, undefined, '499 bytes and the newline fit');
    assert.match(parseMsmtprc(`# ${'x'.repeat(498)}\n`).problem ?? '', /longer than msmtp's limit/);
    assert.match(parseMsmtprc(`# ${'x'.repeat(498)}`).problem ?? '', /longer/, 'the last line without a newline counts the same');
    assert.match(parseMsmtprc('account a\naccount a\n').problem ?? '', /already defined/);
    assert.match(parseMsmtprc('account a : b\n').problem ?? '', /not \(yet\) defined/);
    assert.match(parseMsmtprc('eval echo host x\n').problem ?? '', /eval/);
  });

  test('the model agrees with msmtp on the line limit and on a duplicate name', async () => {
    assert.equal((await msmtpSees(`# ${'x'.repeat(497)}\naccount a\nhost h\nfrom a@x.test\n`, 'a@x.test')).code, 0);
    assert.match((await msmtpSees(`# ${'x'.repeat(498)}\naccount a\nhost h\nfrom a@x.test\n`, 'a@x.test')).out, /line longer than 500/);
    const duplicate = await msmtpSees('account a\nhost h\naccount a\nhost h\n', 'a@x.test');
    assert.equal(duplicate.code, 78);
  });
});

