// credentialsMatch on its own: the session tests reach it only through AUTH, where a throw would look like a 535.
// The throttle's failure file (inetd mode): throttles of separate processes that share it take turns as one;
// test/cli.test.ts runs the real thing, parallel wrong passwords with one relay process each, under socat.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuthThrottle, credentialsMatch } from '../../../src-relay/smtp/auth';
import { authStateDir, openAuthFailureFile } from '../../../src-relay/index';

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

const root = mkdtempSync(join(tmpdir(), 'relay-auth-state-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('AuthThrottle with the failure file of inetd mode (auth-failure-file.ts)', () => {
  it('lets throttles that share it space their attempts as one throttle does', async () => {
    const dir = join(root, 'shared');
    const delay = 60;
    // Two stores on one file stand for two inetd processes; each opens the file for itself.
    const [one, two] = [openAuthFailureFile(dir), openAuthFailureFile(dir)].map((store) => new AuthThrottle(delay, 60_000, Date.now, store));
    assert.equal(await one!.waitForTurn(), 0, 'no failure yet: no wait');
    two!.recordFailure();
    // Each attempt gets its own turn, one delay after the one before: timers never fire early, a busy machine late.
    const started = Date.now();
    const turnAt = async (throttle: AuthThrottle) => {
      await throttle.waitForTurn();
      return Date.now() - started;
    };
    const answered = (await Promise.all([turnAt(one!), turnAt(two!), turnAt(one!)])).sort((a, b) => a - b);
    answered.forEach((at, i) => assert.ok(at >= (i + 1) * delay - 2 && at <= (i + 1) * delay + 150, `turns after ${answered.join(', ')} ms`));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'auth-failures')).mode & 0o777, 0o600);
  });

  it('refuses a folder that others may enter', () => {
    const dir = join(root, 'open');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    assert.throws(() => openAuthFailureFile(dir), /not a private folder/);
  });

  it('goes on within the process, and says so once, when the file is readable by others', async () => {
    const dir = join(root, 'readable');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'auth-failures'), '', { mode: 0o644 });
    chmodSync(join(dir, 'auth-failures'), 0o644);
    const problems: string[] = [];
    const throttle = new AuthThrottle(30, 60_000, Date.now, openAuthFailureFile(dir, (message) => problems.push(message)));
    throttle.recordFailure();
    assert.ok((await throttle.waitForTurn()) >= 25, 'the spacing still holds');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /readable by others; failed logins are spaced within this connection only/);
  });

  it('lives in $XDG_RUNTIME_DIR/msmtp-relay, else in a per-user folder of the temp dir', () => {
    assert.equal(authStateDir({ XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/msmtp-relay');
    const uid = String(process.getuid?.());
    for (const env of [{}, { XDG_RUNTIME_DIR: 'relative/dir' }]) assert.equal(authStateDir(env), join(tmpdir(), `msmtp-relay-${uid}`));
  });
});
