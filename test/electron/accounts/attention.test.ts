/**
 * Accounts that need attention, through the pieces that show them: the health problem (window card with its button to
 * the Accounts pane), the tray's error look and line, the one desktop notice per account, and the service that
 * follows the engine's events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccountAttention } from '../../../electron/accounts/attention';
import { AccountsService } from '../../../electron/accounts/accounts-service';
import { NotifyPolicy } from '../../../electron/desktop/notify-policy';
import { trayModel } from '../../../electron/tray/model';
import type { HealthProblem, RelayFacts } from '../../../electron/contract/api';
import type { RelayEvent } from '../../../src-relay/index';

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

describe('the Accounts service follows the engine\'s events', () => {
  it('marks an account at account-attention (notifying once), and clears it when mail from its address goes out again', () => {
    let listener: ((event: RelayEvent) => void) | null = null;
    const problems: HealthProblem[][] = [];
    const notified: string[] = [];
    new AccountsService({
      host: {
        log: () => undefined,
        setProblems: (_source, list) => problems.push(list),
        retryOutbox: async () => 0,
        onEvent: (next) => {
          listener = next;
          return () => undefined;
        },
      },
      senders: async () => [],
      openExternal: async () => undefined,
      chooseTrustFile: async () => null,
      onAttention: (trouble) => notified.push(trouble.account),
    });
    const emit = (event: RelayEvent) => listener!(event);
    const refused: RelayEvent = { type: 'account-attention', account: 'personal', reason: 'login-refused', from: 'ann@hand.example', advice: 'x' };
    emit(refused);
    emit(refused);
    assert.deepEqual(notified, ['personal'], 'one notice for two failures');
    assert.equal(problems.at(-1)![0]!.title, 'The msmtp account personal needs attention');
    emit({ type: 'outbox', action: 'sent', id: '0123456789AB', from: 'someone@else.example', to: ['x@y.example'], attempts: 2 });
    assert.equal(problems.at(-1)!.length, 1, 'mail from another address says nothing about this account');
    emit({ type: 'outbox', action: 'sent', id: '0123456789AC', from: 'Ann@Hand.example', to: ['x@y.example'], attempts: 3 });
    assert.deepEqual(problems.at(-1), [], 'fixed by hand: its kept mail went out');
    emit({ type: 'account-attention', reason: 'no-password', from: 'bob@nowhere.example', advice: 'x' });
    assert.equal(problems.at(-1)![0]!.title, 'The msmtp account bob@nowhere.example needs attention', 'unnamed by msmtp: the sender stands for it');
  });
});
