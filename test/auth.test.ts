// credentialsMatch on its own: the session tests reach it only through AUTH, where a throw would look like a 535.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialsMatch } from '../src-relay/auth';

const expected = { user: 'relay-user', password: 'S3cret-pässword' };

describe('credentialsMatch', () => {
  it('is false, without throwing, for a user or password of another length (timingSafeEqual alone would throw)', () => {
    for (const given of [
      { user: 'relay-user', password: 'S3cret' },
      { user: 'relay-user', password: `${expected.password}x` },
      { user: 'r', password: expected.password },
      { user: '', password: '' },
    ]) {
      let result: boolean | undefined;
      assert.doesNotThrow(() => (result = credentialsMatch(given, expected)), JSON.stringify(given));
      assert.equal(result, false, JSON.stringify(given));
    }
  });

  it('is false for a wrong user with the right password', () => {
    assert.equal(credentialsMatch({ user: 'relay-usex', password: expected.password }, expected), false);
    assert.equal(credentialsMatch({ user: 'root', password: expected.password }, expected), false);
  });

  it('is false for the right user with a wrong password', () => {
    assert.equal(credentialsMatch({ user: expected.user, password: 'S3cret-pässwort' }, expected), false);
    assert.equal(credentialsMatch({ user: expected.user, password: 'S3cret-password' }, expected), false, 'ä is not a');
  });

  it('is true for both right, non-ASCII included', () => {
    assert.equal(credentialsMatch({ ...expected }, expected), true);
  });
});
