/**
 * Accounts that need attention, through the pieces that show them: the health problem (window card with its button to
 * the Accounts pane), the tray's error look and line, and the one desktop notice per account.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountAttention } from '../../../electron/accounts/attention';
import { NotifyPolicy } from '../../../electron/desktop/notify-policy';
import { trayModel } from '../../../electron/tray/model';
import type { RelayFacts } from '../../../electron/contract/api';

const running: RelayFacts = { state: 'running', host: '127.0.0.1', port: 2500, mailsToday: 0, notices: [] };

describe('accounts that need attention', () => {
  it('marks an account once, words why, and clears it', () => {
    const attention = new AccountAttention();
    assert.equal(attention.note({ account: 'work', kind: 'login-refused', address: 'ann@work.example' }), true);
    assert.equal(attention.note({ account: 'work', kind: 'login-refused', address: 'ann@work.example' }), false, 'the second time is not news');
    assert.equal(attention.note({ account: 'home', kind: 'no-password' }), true);
    assert.match(attention.words('work')!, /refused the login/);
    assert.match(attention.words('home')!, /no password/);
    assert.equal(attention.words('other'), undefined);
    const problems = attention.problems();
    assert.deepEqual(problems.map((problem) => problem.kind), ['account-attention', 'account-attention']);
    assert.equal(problems[0]!.title, 'The msmtp account work needs attention');
    assert.deepEqual(problems[0]!.opens, { pane: 'accounts', address: 'ann@work.example', label: 'Open Accounts' });
    assert.deepEqual(problems[1]!.opens, { pane: 'accounts', label: 'Open Accounts' });
    assert.equal(attention.clear('work'), true);
    assert.equal(attention.clear('work'), false);
    assert.equal(attention.has('home'), true);
    assert.deepEqual(attention.problems().map((problem) => problem.title), ['The msmtp account home needs attention']);
  });

  it('puts the tray in its error look with the account named, and back when it is cleared', () => {
    const attention = new AccountAttention();
    assert.equal(trayModel(running).look, 'running');
    attention.note({ account: 'work', kind: 'login-refused' });
    const model = trayModel({ ...running, problems: attention.problems() });
    assert.equal(model.look, 'error');
    assert.ok(model.items.some((item) => item.kind === 'label' && item.label === 'Problem: The msmtp account work needs attention'));
    attention.clear('work');
    assert.equal(trayModel({ ...running, problems: attention.problems() }).look, 'running');
  });

  it('notifies with the account and what to do, unless notifications are off', () => {
    let enabled = true;
    const policy = new NotifyPolicy({ enabled: () => enabled, windowFocused: () => true });
    const notice = policy.onAccountAttention({ account: 'work', kind: 'login-refused' });
    assert.deepEqual(notice, {
      title: 'The mail account work needs attention',
      body: 'Its mail is kept in the outbox: the provider refused the login. Open Accounts to verify it again.',
    });
    assert.match(policy.onAccountAttention({ account: 'home', kind: 'no-password' })!.body, /msmtp found no password/);
    enabled = false;
    assert.equal(policy.onAccountAttention({ account: 'work', kind: 'login-refused' }), null);
  });
});
