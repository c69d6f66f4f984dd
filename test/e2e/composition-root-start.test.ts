/**
 * The desktop app's composition root, run: out/electron/glue/main.js in a child process with everything real (the
 * engine, the key ring of scripts/with-keyring.sh, msmtp delivering to a loopback sink, electron-log, the settings
 * window in headless Chromium with the real preload) except Electron's native layer, which is the stand-in of
 * test/helpers/electron-stand-in/ (its header lists what it implements and from which documentation). The tray host
 * (StatusNotifierWatcher) and logind's LockedHint are python3-dbus fakes on the private session bus.
 * The scenarios are split over composition-root-{start,login,tray,quit}.test.ts, each file within the runner's time bound.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchApp } from '../helpers/app/desktop-app';
import { desk, listening, liveTray, mail, started, waitForState } from '../helpers/app/desktop-session';
import { waitUntil } from '../helpers/wait';
import { useDesktopFakes } from '../helpers/app/desktop-fakes';

describe('composition root: cold start, second launch, renderer crash', { timeout: 420_000 }, () => {
  const fakes = useDesktopFakes();

  it('cold start: tray icon registered with the host, relay listening, window loaded, a mail sent shows in the tray', async () => {
    const watcher = await fakes.watcher();
    const d = await desk('cold');
    const app = started(launchApp(d.env));
    const state = await waitForState(app, 'the tray and the window', (s) => liveTray(s)?.registrations === 1 && s.journal.includes('window 1 loaded'));
    assert.equal(state.trays.length, 1);
    assert.equal(state.trays[0]!.kind, 'sni');
    assert.ok(watcher.lines.includes(`registered org.kde.StatusNotifierItem-${app.child.pid}-1`), watcher.lines.join('\n'));
    await waitUntil(() => listening(d.port), 10_000, 'the relay listening');
    const ipcAt = state.journal.indexOf('app ipc registered');
    const windowAt = state.journal.findIndex((line) => line.startsWith('window 1 created'));
    assert.ok(ipcAt >= 0 && ipcAt < windowAt, state.journal.join(' | '));

    assert.match(await mail(d), /^250/);
    const [got] = await d.sink.waitForMails(1, 10_000);
    assert.deepEqual(got!.to, ['someone@example.net']);
    const after = await waitForState(app, 'the count and last result in the tray', (s) => liveTray(s)!.menu.includes('1 mail sent today (last: delivered)'));
    assert.deepEqual(liveTray(after)!.menu.slice(2), ['-', 'Stop relay', 'Settings…', 'Copy mail client settings', 'Open log file', '-', 'Quit msmtp Relay']);
    assert.match(liveTray(after)!.tooltip, /^msmtp Relay: /);
    // The real window got the pushed status through the real preload.
    assert.match(String(await app.call('page-text')), /127\.0\.0\.1|localhost|Running|running/);
  });

  it('a second launch during boot opens the window only once IPC is registered; after boot it shows it, and --hidden does not', async () => {
    await fakes.watcher();
    const d = await desk('second');
    // 'ready' waits for the second launch here, so it lands before boot has registered anything.
    const first = started(launchApp({ ...d.env, STAND_IN_READY_AFTER: 'second-instance' }, ['--hidden']));
    await waitUntil(() => existsSync(join(d.home, '.config', 'msmtp-relay', 'SingletonLock')), 30_000, 'the first instance holding the lock');
    const second = started(launchApp(d.env));
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output());
    const state = await waitForState(first, 'the window asked for during boot, loaded', (s) => s.journal.includes('window 1 loaded'));
    const at = (prefix: string) => state.journal.findIndex((line) => line.startsWith(prefix));
    assert.ok(at('second-instance') >= 0 && at('second-instance') < at('ready'), `during boot: ${state.journal.join(' | ')}`);
    assert.ok(at('app ipc registered') < at('window 1 created'), `no window before the handlers: ${state.journal.join(' | ')}`);
    assert.equal(state.windows.length, 1);
    assert.match(String(await first.call('page-text')), /Running|Starting|running/, 'the page got its data over IPC');

    // After boot: hide the window to the tray by closing it, then a second launch shows it again; a hidden one not.
    await waitForState(first, 'the window shown', (s) => s.windows[0]?.visible === true);
    await first.call('close-window');
    await waitForState(first, 'the window hidden to the tray', (s) => s.windows[0]?.visible === false && s.windows.length === 1);
    const hiddenAgain = started(launchApp(d.env, ['--hidden']));
    assert.equal((await hiddenAgain.exited).code, 0);
    await sleep(500);
    assert.equal((await first.state()).windows[0]!.visible, false, 'a login item started again does not open the window');
    const third = started(launchApp(d.env));
    assert.equal((await third.exited).code, 0);
    await waitForState(first, 'the window shown by the second launch', (s) => s.windows[0]?.visible === true && s.windows.length === 1);
  });

  it('a renderer crash destroys the window; the next open builds a fresh one that loads', async () => {
    await fakes.watcher();
    const d = await desk('crash');
    const app = started(launchApp(d.env));
    await waitForState(app, 'the window loaded', (s) => s.journal.includes('window 1 loaded'));
    await app.call('crash-renderer');
    let state = await waitForState(app, 'the crashed window gone', (s) => s.journal.includes('window 1 closed'));
    assert.ok(state.journal.includes('window 1 renderer gone'));
    assert.deepEqual(state.windows, []);
    assert.ok(await listening(d.port), 'the relay runs on');
    await app.call('tray-menu', 'Settings…');
    state = await waitForState(app, 'a fresh window', (s) => s.journal.includes('window 2 loaded'));
    assert.deepEqual(state.windows.map((window) => window.crashed), [false]);
    assert.match(String(await app.call('page-text')), /Running|running/);
  });
});
