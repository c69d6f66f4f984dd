import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  APPROVAL_NEEDED, DESKTOP_FILE_NAME, LOGIN_ITEM_NAME, createLoginItemAutostart, createXdgAutostart, desktopEntry, desktopExec, launchCommand,
  xdgAutostartDir,
} from '../../../electron/desktop/autostart';
import { tempDir } from '../../helpers/app/app-env';
import { waitUntil } from '../../helpers/wait';

describe('autostart', { timeout: 20_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('autostart');
  });
  after(() => dir.remove());

  it('starts an AppImage through $APPIMAGE, a development run with the app folder, always hidden', () => {
    assert.deepEqual(
      launchCommand({ execPath: '/tmp/.mount_abc/msmtp-relay', appImage: '/home/me/Apps/msmtp-relay.AppImage' }),
      ['/home/me/Apps/msmtp-relay.AppImage', '--hidden'],
    );
    assert.deepEqual(launchCommand({ execPath: '/opt/msmtp Relay/msmtp-relay' }), ['/opt/msmtp Relay/msmtp-relay', '--hidden']);
    assert.deepEqual(
      launchCommand({ execPath: '/repo/node_modules/electron/dist/electron', appPath: '/repo' }),
      ['/repo/node_modules/electron/dist/electron', '/repo', '--hidden'],
    );
  });

  it('quotes Exec= by the Desktop Entry rules', () => {
    assert.equal(desktopExec(['/usr/bin/msmtp-relay', '--hidden']), '/usr/bin/msmtp-relay --hidden');
    assert.equal(desktopExec(['/opt/msmtp Relay/msmtp-relay', '--hidden']), '"/opt/msmtp Relay/msmtp-relay" --hidden');
    // Inside quotes ", `, $ and \ get a backslash; then the whole value escapes backslashes once more.
    assert.equal(desktopExec(['/a "b"/$HOME`x`\\y']), '"/a \\\\"b\\\\"/\\\\$HOME\\\\`x\\\\`\\\\\\\\y"');
    assert.equal(desktopExec(['/home/me/100%/app']), '/home/me/100%%/app');
    assert.throws(() => desktopExec(['/bad\npath']), /control character/);
  });

  it('writes the desktop entry text', () => {
    const text = desktopEntry(['/home/me/Apps/msmtp-relay.AppImage', '--hidden']);
    assert.equal(text, [
      '[Desktop Entry]',
      'Type=Application',
      'Version=1.0',
      'Name=msmtp Relay',
      'Comment=Local SMTP relay that hands each mail to msmtp',
      'Exec=/home/me/Apps/msmtp-relay.AppImage --hidden',
      'Icon=msmtp-relay',
      'Terminal=false',
      'Categories=Network;Email;',
      'X-GNOME-Autostart-enabled=true',
      '',
    ].join('\n'));
  });

  it('finds ~/.config/autostart, or $XDG_CONFIG_HOME/autostart when it is absolute', () => {
    assert.equal(xdgAutostartDir({}, '/home/me'), '/home/me/.config/autostart');
    assert.equal(xdgAutostartDir({ XDG_CONFIG_HOME: '/cfg' }, '/home/me'), '/cfg/autostart');
    assert.equal(xdgAutostartDir({ XDG_CONFIG_HOME: 'relative' }, '/home/me'), '/home/me/.config/autostart');
  });

  it('creates, rewrites and removes ~/.config/autostart/msmtp-relay.desktop', async () => {
    const autostartDir = join(dir.path, 'config', 'autostart');
    const first = createXdgAutostart(autostartDir, ['/old/place/msmtp-relay.AppImage', '--hidden']);
    assert.equal(first.file, join(autostartDir, DESKTOP_FILE_NAME));
    assert.equal(await first.isEnabled(), false);
    await first.setEnabled(true);
    assert.equal(await first.isEnabled(), true);
    assert.match(await readFile(first.file, 'utf8'), /^Exec=\/old\/place\/msmtp-relay\.AppImage --hidden$/m);
    assert.ok(((await stat(first.file)).mode & 0o022) === 0, 'not writable by others');

    // The next launch, from a moved AppImage, rewrites the entry.
    const moved = createXdgAutostart(autostartDir, ['/new/place/msmtp-relay.AppImage', '--hidden']);
    await moved.setEnabled(true);
    assert.match(await readFile(moved.file, 'utf8'), /^Exec=\/new\/place\/msmtp-relay\.AppImage --hidden$/m);

    // A user who switched it off in the desktop's own settings (Hidden=true) is respected.
    await writeFile(moved.file, `${desktopEntry(['/x'])}Hidden=true\n`);
    assert.equal(await moved.isEnabled(), false);

    await moved.setEnabled(false);
    assert.equal(await moved.isEnabled(), false);
    await moved.setEnabled(false); // idempotent
  });

  it('the written Exec= parses back to the same argv (string escapes undone, then shell-style words)', async () => {
    const argv = ['/opt/msmtp Relay/msmtp-relay', '--hidden'];
    const autostart = createXdgAutostart(join(dir.path, 'parse'), argv);
    await autostart.setEnabled(true);
    // The Exec rules are a subset of POSIX shell quoting once the string-level escapes are undone.
    const script = [
      'import re, shlex, sys',
      'text = open(sys.argv[1]).read()',
      'value = re.search(r"^Exec=(.*)$", text, re.M).group(1)',
      'value = re.sub(r"\\\\(.)", lambda m: {"s": " ", "n": "\\n", "t": "\\t", "r": "\\r", "\\\\": "\\\\"}.get(m.group(1), "\\\\" + m.group(1)), value)',
      'print("\\0".join(shlex.split(value.replace("%%", "%"))))',
    ].join('\n');
    const { stdout: parsed } = await promisify(execFile)('python3', ['-c', script, autostart.file]);
    assert.deepEqual(parsed.trimEnd().split('\0'), argv);
  });

  it('GLib (gio launch) starts the entry with the exact argv, also for a path with % and = (issue #16, 8)', { timeout: 30_000 }, async (t) => {
    if (!existsSync('/usr/bin/gio')) return t.skip('gio (libglib2.0-bin) is not installed');
    const out = join(dir.path, 'gio-argv');
    for (const folder of ['plain folder', '100% a=b "q" $x `y` \\z']) {
      const program = join(dir.path, 'gio', folder, 'msmtp-relay.AppImage');
      await mkdir(dirname(program), { recursive: true });
      // The stand-in app writes the argv it got, NUL-separated.
      await writeFile(program, `#!/bin/sh\nprintf '%s\\0' "$0" "$@" > "$GIO_ARGV_OUT.tmp" && mv "$GIO_ARGV_OUT.tmp" "$GIO_ARGV_OUT"\n`, { mode: 0o755 });
      const argv = launchCommand({ execPath: '/unused', appImage: program });
      const autostart = createXdgAutostart(join(dir.path, 'gio', folder), argv);
      await autostart.setEnabled(true);
      await rm(out, { force: true });
      const launched = await promisify(execFile)('gio', ['launch', autostart.file], { env: { ...process.env, GIO_ARGV_OUT: out } }).then(() => 'ok', (error: Error) => error.message);
      assert.equal(launched, 'ok', `gio launch refused the entry for ${JSON.stringify(program)}`);
      await waitUntil(() => existsSync(out), 5000, 'the launched program to write its argv');
      assert.deepEqual((await readFile(out, 'utf8')).split('\0').slice(0, -1), argv);
    }
  });

  it('macOS goes through setLoginItemSettings with --hidden, and reads the state back after each change', async () => {
    const calls: unknown[] = [];
    let openAtLogin = false;
    const autostart = createLoginItemAutostart({
      getLoginItemSettings: (options) => {
        calls.push(['get', options]);
        return { openAtLogin, status: openAtLogin ? 'enabled' : 'not-registered' };
      },
      setLoginItemSettings: (settings) => {
        calls.push(['set', settings]);
        openAtLogin = settings.openAtLogin;
      },
    }, 'darwin');
    assert.equal(await autostart.isEnabled(), false);
    await autostart.setEnabled(true);
    assert.equal(await autostart.isEnabled(), true);
    await autostart.setEnabled(false);
    const get = ['get', { args: ['--hidden'] }];
    assert.deepEqual(calls, [
      get,
      ['set', { openAtLogin: true, args: ['--hidden'] }], get,
      get,
      ['set', { openAtLogin: false, args: ['--hidden'] }], get,
    ]);
  });

  it('macOS: an item that waits for approval, or that the OS silently dropped, is off, and turning it on says where to approve', async () => {
    for (const status of ['requires-approval', 'not-found', 'not-registered']) {
      const autostart = createLoginItemAutostart({
        getLoginItemSettings: () => ({ openAtLogin: status === 'requires-approval', status }),
        setLoginItemSettings: () => undefined,
      }, 'darwin');
      await assert.rejects(autostart.setEnabled(true), status === 'requires-approval'
        ? { message: APPROVAL_NEEDED }
        : { message: `the system did not add the login item (its state: ${status})` });
      assert.equal(await autostart.isEnabled(), false, status);
    }
    assert.match(APPROVAL_NEEDED, /System Settings → General → Login Items/);
  });

  it('Windows: the Run entry is named, read back by that name, and an unnamed old entry goes when turned off', async () => {
    const entries = new Map<string, boolean>();
    const sets: unknown[] = [];
    const autostart = createLoginItemAutostart({
      getLoginItemSettings: () => ({
        openAtLogin: entries.has('org.msmtp-relay.app'),
        launchItems: [...entries].map(([name, enabled]) => ({ name, enabled, scope: 'user' })),
      }),
      setLoginItemSettings: (settings) => {
        sets.push(settings);
        const name = settings.name ?? 'org.msmtp-relay.app'; // Electron's default: the AppUserModelID
        if (settings.openAtLogin) entries.set(name, true);
        else entries.delete(name);
      },
    }, 'win32');
    entries.set('org.msmtp-relay.app', true);
    assert.equal(await autostart.isEnabled(), false, 'only the named entry counts');
    await autostart.setEnabled(true);
    assert.equal(await autostart.isEnabled(), true);
    assert.deepEqual([...entries.keys()].sort(), [LOGIN_ITEM_NAME, 'org.msmtp-relay.app']);
    await autostart.setEnabled(false);
    assert.deepEqual([...entries.keys()], []);
    assert.deepEqual(sets.at(-2), { openAtLogin: false, args: ['--hidden'], name: LOGIN_ITEM_NAME });
  });
});
