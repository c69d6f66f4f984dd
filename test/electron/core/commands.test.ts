/**
 * AppCommands' save and start at login: the checkbox and settings.json say what the OS has after the change, not
 * what was asked for (issue #14: an unsigned macOS build's login item can end "requires approval" or silently off).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppCommands } from '../../../electron/core/commands';
import { createAppCore } from '../../../electron/core/app-core';
import { createSettingsStore } from '../../../electron/core/settings';
import { APPROVAL_NEEDED, createLoginItemAutostart } from '../../../electron/desktop/autostart';
import { createKeyringStore } from '../../../src-relay/index';
import { UNSET_SETTINGS } from '../../helpers/app/app-core';
import { settingsFor, tempDir, uniqueUser } from '../../helpers/app/app-env';
import { freePort } from '../../helpers/ports';

const secrets = createKeyringStore();

describe('app commands: start at login', { timeout: 30_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const users: string[] = [];
  before(async () => {
    dir = await tempDir('commands');
  });
  after(async () => {
    await Promise.all(users.map((user) => secrets.delete(user).catch(() => false)));
    await dir.remove();
  });

  for (const [status, expected] of [['requires-approval', APPROVAL_NEEDED], ['not-found', 'the system did not add the login item (its state: not-found)']] as const) {
    it(`a macOS login item that ends "${status}" is saved off, and the window is told why`, async () => {
      const user = uniqueUser(`commands-${status}`);
      users.push(user);
      const mailDir = join(dir.path, status);
      await mkdir(mailDir);
      const core = createAppCore({ settings: UNSET_SETTINGS, secrets, engineOptions: { authFailureDelayMs: 0 } });
      const store = createSettingsStore(join(dir.path, `${status}-data`));
      const calls: boolean[] = [];
      const commands = new AppCommands({
        app: core,
        store,
        secrets,
        autostart: createLoginItemAutostart({
          getLoginItemSettings: () => ({ openAtLogin: status === 'requires-approval', status }),
          setLoginItemSettings: (settings) => void calls.push(settings.openAtLogin),
        }, 'darwin'),
        writeClipboard: () => undefined,
        openLogFile: async () => '',
        chooseFile: async () => null,
      });
      const settings = settingsFor(mailDir, await freePort(), user);
      core.settings.replace(settings);
      try {
        const result = await commands.saveSettings({ ...settings, launchAtLogin: true });
        assert.equal(result.ok, true);
        assert.deepEqual(calls, [true], 'it was asked for');
        assert.equal(result.ok && result.settings.launchAtLogin, false, 'the checkbox shows what macOS has');
        const onDisk = JSON.parse(await readFile(store.file, 'utf8')) as { launchAtLogin: boolean };
        assert.equal(onDisk.launchAtLogin, false, 'settings.json too');
        assert.ok(core.status.current().notices.includes(`could not change start at login: ${expected}`), core.status.current().notices.join('\n'));
      } finally {
        await core.relay.shutdown();
      }
    });
  }
});
