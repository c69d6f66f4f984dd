/**
 * The app's password entry in a real Secret Service (gnome-keyring in the private D-Bus session of
 * scripts/with-keyring.sh): stored by the app, readable by secret-tool and by the relay CLI, never by the renderer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppCommands } from '../../../electron/core/commands';
import { createXdgAutostart } from '../../../electron/desktop/autostart';
import { createSettingsStore } from '../../../electron/core/settings';
import { APP_SERVICE, createKeyringStore, findPassword } from '../../../src-relay/index';
import { freePort } from '../../helpers/ports';
import { settingsFor, sunkMails, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { sendWithNodemailer } from '../../helpers/smtp/mail';
import { CliProcess } from '../../helpers/relay/cli-process';
import { waitUntil } from '../../helpers/wait';
import { createAppCore } from '../../../electron/core/app-core';
import { UNSET_SETTINGS, startWith } from '../../helpers/app/app-core';
import { ensureRelayPassword } from '../../../electron/core/password';

const secrets = createKeyringStore();

async function secretTool(...args: string[]): Promise<string> {
  return (await promisify(execFile)('secret-tool', args, { timeout: 10_000 })).stdout;
}

describe('key ring', { timeout: 30_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const users: string[] = [];
  before(async () => {
    dir = await tempDir('keyring');
  });
  after(async () => {
    await Promise.all(users.map((user) => secrets.delete(user).catch(() => false)));
    await dir.remove();
  });
  const user = (tag: string) => {
    const name = uniqueUser(tag);
    users.push(name);
    return name;
  };

  it('sets, gets and deletes an entry under service msmtp-relay, account = user', async () => {
    const name = user('crud');
    assert.equal(await secrets.get(name), null);
    await secrets.set(name, 'first secret');
    assert.equal(await secrets.get(name), 'first secret');
    assert.equal(await secretTool('lookup', 'service', APP_SERVICE, 'account', name), 'first secret');
    await secrets.set(name, 'second secret');
    assert.equal(await secrets.get(name), 'second secret');
    assert.equal(await secrets.delete(name), true);
    assert.equal(await secrets.get(name), null);
  });

  it('first run generates a strong password; the relay CLI finds the same one', async () => {
    const name = user('first-run');
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets });
    const password = await ensureRelayPassword(secrets, name, core.log);
    assert.match(password, /^[A-Za-z0-9_-]{32}$/, '24 random bytes as base64url');
    assert.equal(await ensureRelayPassword(secrets, name, core.log), password, 'the next start reuses it');
    assert.notEqual(await ensureRelayPassword(secrets, user('other'), core.log), password);
    assert.deepEqual(await findPassword(name, { interactive: false }), { password, source: 'app-keyring' });

    // The headless CLI started with --auth=USER accepts the password the app stored.
    const mailDir = join(dir.path, 'cli-mails');
    await mkdir(mailDir);
    const port = await freePort();
    const cli = await CliProcess.listening(port, [`--auth=${name}`, '--command', settingsFor(mailDir, port, name).command]);
    try {
      assert.match(await sendWithNodemailer(port, { user: name, pass: password }, 'cli@example.net'), /^250/);
      assert.equal((await sunkMails(mailDir)).length, 1);
      await assert.rejects(sendWithNodemailer(port, { user: name, pass: `${password}x` }, 'cli@example.net'), /535/);
    } finally {
      await cli.stop();
    }
  });

  it('the controller sets, regenerates and copies the password but never returns it', async () => {
    const name = user('controller');
    const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0 } });
    const clipboard: string[] = [];
    const mailDir = join(dir.path, 'controller-mails');
    await mkdir(mailDir);
    const settings = settingsFor(mailDir, await freePort(), name);
    const controller = new AppCommands({
      app: core,
      store: createSettingsStore(join(dir.path, 'controller-data')),
      secrets,
      autostart: createXdgAutostart(join(dir.path, 'autostart'), ['/x', '--hidden']),
      writeClipboard: (text) => {
        clipboard.push(text);
      },
      openLogFile: async () => '',
      chooseFile: async () => null,
    });
    core.settings.replace(settings);
    try {
      const { port } = await startWith(core, settings);
      const generated = (await secrets.get(name))!;

      assert.deepEqual(await controller.setPassword('short'), { ok: false, error: 'Use at least 8 characters' });
      assert.deepEqual(await controller.setPassword('line\nbreak here'), {
        ok: false, error: 'The password cannot contain control characters or line breaks',
      });
      assert.equal(await secrets.get(name), generated, 'a refused password changes nothing');

      const set = await controller.setPassword('correct horse battery');
      assert.equal(set.ok, true);
      assert.ok(!JSON.stringify(set).includes('correct horse'), 'the reply does not echo the password');
      assert.equal(await secrets.get(name), 'correct horse battery');
      const running = core.status.current();
      assert.equal(running.port, port, 'a password change restarts on the same port');
      assert.match(await sendWithNodemailer(running.port, { user: name, pass: 'correct horse battery' }, 'a@example.net'), /^250/);
      await assert.rejects(sendWithNodemailer(running.port, { user: name, pass: generated }, 'a@example.net'), /535/);

      const regenerated = await controller.regeneratePassword();
      assert.equal(regenerated.ok, true);
      const fresh = (await secrets.get(name))!;
      assert.match(fresh, /^[A-Za-z0-9_-]{32}$/);
      assert.ok(!JSON.stringify(regenerated).includes(fresh));

      assert.deepEqual(await controller.copy('password'), { ok: true, message: 'Password copied' });
      assert.equal(clipboard.at(-1), fresh);
      assert.match(await sendWithNodemailer(core.status.current().port, { user: name, pass: clipboard.at(-1)! }, 'b@example.net'), /^250/);
      await waitUntil(async () => (await sunkMails(mailDir)).length === 2, 5000, 'two mails');
    } finally {
      await core.relay.shutdown();
    }
  });
});
