/**
 * Start at login at launch: a real ~/.config/autostart folder (a temp dir) with the entries the desktops write when
 * the user switches the item off; the login-item API is Electron's shape, answered the way Windows answers for an
 * entry disabled in Task Manager.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLoginItemAutostart, createXdgAutostart, desktopEntry } from '../../../electron/desktop/autostart';
import {
  DEV_RUN_AUTOSTART, autostartAvailable, refreshAutostartAtLaunch, unavailableAutostart,
} from '../../../electron/desktop/autostart-policy';
import { tempDir } from '../../helpers/app/app-env';

const OLD = ['/old/place/msmtp-relay.AppImage', '--hidden'];
const NEW = ['/new/place/msmtp-relay.AppImage', '--hidden'];

describe('autostart policy', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('autostart-policy');
  });
  after(() => dir.remove());

  it('creates nothing when there is no entry: the checkbox shows off', async () => {
    const folder = join(dir.path, 'none');
    const result = await refreshAutostartAtLaunch(createXdgAutostart(folder, NEW));
    assert.deepEqual(result, { enabled: false, refreshed: false });
    await assert.rejects(readdir(folder), { code: 'ENOENT' });
  });

  it('refreshes an enabled entry with the command of this launch (a moved AppImage)', async () => {
    const folder = join(dir.path, 'enabled');
    await createXdgAutostart(folder, OLD).setEnabled(true);
    const autostart = createXdgAutostart(folder, NEW);
    assert.deepEqual(await refreshAutostartAtLaunch(autostart), { enabled: true, refreshed: true });
    assert.match(await readFile(autostart.file, 'utf8'), /^Exec=\/new\/place\/msmtp-relay\.AppImage --hidden$/m);
  });

  for (const [desktop, line] of [
    ['KDE (Hidden=true)', 'Hidden=true'],
    ['GNOME Tweaks (X-GNOME-Autostart-enabled=false)', 'X-GNOME-Autostart-enabled=false'],
  ] as const) {
    it(`leaves an entry switched off in ${desktop} as it is, and reports it off`, async () => {
      const folder = join(dir.path, line.replace(/\W/g, '_'));
      await mkdir(folder, { recursive: true });
      const autostart = createXdgAutostart(folder, NEW);
      const text = `${desktopEntry(OLD).replace('X-GNOME-Autostart-enabled=true\n', '')}${line}\n`;
      await writeFile(autostart.file, text);
      assert.deepEqual(await refreshAutostartAtLaunch(autostart), { enabled: false, refreshed: false });
      assert.equal(await readFile(autostart.file, 'utf8'), text, 'not a byte changed');
    });
  }

  it('an entry it cannot read is reported, not overwritten', async () => {
    const folder = join(dir.path, 'unreadable');
    const autostart = createXdgAutostart(folder, NEW);
    await mkdir(autostart.file, { recursive: true }); // a folder where the file should be: reading fails with EISDIR
    const result = await refreshAutostartAtLaunch(autostart);
    assert.equal(result.enabled, false);
    assert.match(result.problem ?? '', /^could not read start at login: .*EISDIR/);
  });

  it('Windows: an entry disabled in Task Manager is off and is not re-enabled at launch', async () => {
    const sets: unknown[] = [];
    const api = (willLaunch: boolean) => createLoginItemAutostart({
      getLoginItemSettings: () => ({ openAtLogin: true, executableWillLaunchAtLogin: willLaunch }),
      setLoginItemSettings: (settings) => void sets.push(settings),
    });
    assert.deepEqual(await refreshAutostartAtLaunch(api(false)), { enabled: false, refreshed: false });
    assert.deepEqual(sets, [], 'no write: writing openAtLogin would approve the entry again');
    assert.deepEqual(await refreshAutostartAtLaunch(api(true)), { enabled: true, refreshed: true });
    assert.deepEqual(sets, [{ openAtLogin: true, args: ['--hidden'] }]);
  });

  it('a development run on Windows or macOS never registers the bare Electron binary', async () => {
    assert.equal(autostartAvailable('linux', false), true);
    assert.equal(autostartAvailable('linux', true), true);
    assert.equal(autostartAvailable('win32', false), false);
    assert.equal(autostartAvailable('darwin', false), false);
    assert.equal(autostartAvailable('win32', true), true);
    assert.equal(autostartAvailable('darwin', true), true);
    const none = unavailableAutostart();
    assert.deepEqual(await refreshAutostartAtLaunch(none), { enabled: false, refreshed: false });
    await assert.rejects(none.setEnabled(true), { message: DEV_RUN_AUTOSTART });
    await none.setEnabled(false);
  });
});
