/**
 * When the app notifies: the relay going into its error state (once, not for each repeat), a mail that failed for
 * good (not a temporary failure, a burst counted into one notice), nothing when the setting is off or the window
 * has the focus. The statuses and mail events come from a real RelayHost and engine with a failing command.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NotifyPolicy, type Notice } from '../../../electron/desktop/notify-policy';
import { createKeyringStore } from '../../../src-relay/index';
import { freePort } from '../../helpers/ports';
import { settingsFor, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { sendWithNodemailer as sendMail } from '../../helpers/smtp/mail';
import { waitUntil } from '../../helpers/wait';
import { createAppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../../helpers/app/app-core';

const secrets = createKeyringStore();

describe('notifications', { timeout: 60_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const user = uniqueUser('notify');
  before(async () => {
    dir = await tempDir('notify');
  });
  after(async () => {
    await secrets.delete(user).catch(() => false);
    await dir?.remove();
  });

  it('a real relay: one notice when it stops with an error, one per burst of permanent mail failures, none for delivered mail', async () => {
    let clock = 1_000_000;
    let enabled = true;
    const policy = new NotifyPolicy({ enabled: () => enabled, now: () => clock, mailQuietMs: 60_000 });
    const notices: Notice[] = [];
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0, stopGraceMs: 2000 } });
    core.status.onStatus((status) => {
      const notice = policy.onStatus(status);
      if (notice) notices.push(notice);
    });
    core.relay.onEvent((event) => {
      if (event.type !== 'mail') return;
      const notice = policy.onMail(event);
      if (notice) notices.push(notice);
    });
    const mails = join(dir.path, 'mails');
    await mkdir(mails);
    const port = await freePort();
    const settings = settingsFor(mails, port, user);
    try {
      await startWith(core, settings);
      const pass = (await secrets.get(user))!;
      assert.match(await sendMail(port, { user, pass }, 'ok@example.net'), /^250/);
      assert.equal(notices.length, 0, 'a delivered mail says nothing');

      await assert.rejects(sendMail(port, { user, pass }, 'fail-1@example.net'), /554/);
      await waitUntil(() => notices.length === 1, 5000, 'the first failure notice');
      assert.deepEqual(notices[0], {
        title: 'A mail to fail-1@example.net could not be sent',
        body: 'msmtp said: msmtp: recipient address fail-1@example.net not accepted by the server',
      });
      clock += 1000;
      await assert.rejects(sendMail(port, { user, pass }, 'fail-2@example.net'), /554/);
      clock += 61_000;
      await assert.rejects(sendMail(port, { user, pass }, 'fail-3@example.net'), /554/);
      await waitUntil(() => notices.length === 2, 5000, 'the second notice');
      assert.equal(notices[1]!.title, 'A mail to fail-3@example.net could not be sent (and 1 more since the last notice)');

      enabled = false;
      clock += 61_000;
      await assert.rejects(sendMail(port, { user, pass }, 'fail-4@example.net'), /554/);
      enabled = true;

      // The relay stops with an error: its port is taken when it restarts.
      await core.relay.stop();
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        await startWith(core, settings);
        await startWith(core, settings);
      } finally {
        blocker.close();
      }
      await waitUntil(() => notices.length === 3, 5000, 'the error notice');
      assert.equal(notices[2]!.title, 'msmtp Relay stopped');
      assert.match(notices[2]!.body, new RegExp(`^Port ${port} is already in use`));
      assert.equal(notices.length, 3, 'the same error again (second start) is not notified twice; the disabled one never');
    } finally {
      await core.relay.shutdown();
    }
  });

  it('says nothing while the window has the focus, and nothing for temporary failures', () => {
    let focused = true;
    const policy = new NotifyPolicy({ enabled: () => true, windowFocused: () => focused });
    const error = { state: 'error' as const, host: '127.0.0.1', port: 1, error: 'x', mailsToday: 0, notices: [] };
    assert.equal(policy.onStatus(error), null);
    assert.equal(policy.onMail({ outcome: 'failed', to: ['a@b.c'], reply: '554 5.0.0 no' }), null);
    focused = false;
    assert.equal(policy.onMail({ outcome: 'temp-failed', to: ['a@b.c'], reply: '451 4.0.0 later' }), null);
    assert.deepEqual(policy.onMail({ outcome: 'failed', to: ['a@b.c'], reply: '554 5.0.0 no' }), { title: 'A mail to a@b.c could not be sent', body: '554 5.0.0 no' });
    const later = new NotifyPolicy({ enabled: () => true });
    assert.deepEqual(later.onGaveUp({ to: ['b@c.d'], attempts: 7, reason: 'mail server unreachable' }), {
      title: 'A mail to b@c.d could not be sent', body: 'Given up after 7 tries: mail server unreachable',
    });
  });
});
