import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressProblem } from '../../../src-relay/smtp/address';

describe('addressProblem', () => {
  it('accepts what argv can carry safely, shell metacharacters included', () => {
    for (const ok of ['a@b', 'a-b@x', 'postmaster', '//etc/passwd', 'a;touch${IFS}M@x', '$(id)@x', '`id`@x', 'a|b@x', "a'b@x", 'ä@x', 'a\u00a1b@x']) {
      assert.equal(addressProblem(ok), null, ok);
    }
  });

  it('refuses a leading "-", control characters (C1 too: issue #16), spaces, brackets and overlong addresses', () => {
    for (const bad of ['a\u0085b@x', 'a\u009b2Jb@x', 'a\u0080@x', 'a\u009f@x', '-oQ@x', '-', 'a\0b@x', 'a\rb@x', 'a\nb@x', 'a\x7fb@x', 'a b@x', 'a\tb@x', 'a<b@x', 'a>b@x', `${'a'.repeat(250)}@example.org`]) {
      assert.notEqual(addressProblem(bad), null, JSON.stringify(bad));
    }
  });
});
