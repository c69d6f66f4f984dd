import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromMatches, unmatchedSenders } from '../../../electron/accounts/from-match';

describe('which account msmtp picks for a From address', () => {
  it('compares plain addresses without regard to case', () => {
    assert.equal(fromMatches('Ann@Example.org', 'ann@example.ORG'), true);
    assert.equal(fromMatches('ann@example.org', 'ann@example.org.evil'), false);
    assert.equal(fromMatches('ann@example.org', 'bob@example.org'), false);
  });

  it('reads glob characters as msmtp (fnmatch) does', () => {
    assert.equal(fromMatches('*@example.org', 'anyone@example.org'), true);
    assert.equal(fromMatches('*@example.org', 'anyone@example.org.evil'), false);
    assert.equal(fromMatches('ann+?@example.org', 'ann+1@example.org'), true);
    assert.equal(fromMatches('ann+?@example.org', 'ann+12@example.org'), false);
    assert.equal(fromMatches('[ab]nn@example.org', 'bnn@example.org'), true);
    assert.equal(fromMatches('[!ab]nn@example.org', 'bnn@example.org'), false);
    assert.equal(fromMatches('a.n@example.org', 'axn@example.org'), false, 'a dot is a dot, not any character');
    assert.equal(fromMatches('[unclosed@example.org', '[unclosed@example.org'), true);
  });

  it('lists each sender no account matches once, where it was seen first', () => {
    const accounts = [{ from: ['ann@example.org'] }, { from: ['*@work.example'] }, { from: [] }];
    const senders = [
      { address: 'ann@example.org', where: 'Thunderbird (default)' },
      { address: 'bob@work.example', where: 'Thunderbird (default)' },
      { address: 'carl@else.example', where: 'Thunderbird (default)' },
      { address: 'Carl@else.example', where: 'the test mail' },
    ];
    assert.deepEqual(unmatchedSenders(accounts, senders), [{ address: 'carl@else.example', where: 'Thunderbird (default)' }]);
    assert.deepEqual(unmatchedSenders([], senders.slice(0, 1)), senders.slice(0, 1));
  });
});
