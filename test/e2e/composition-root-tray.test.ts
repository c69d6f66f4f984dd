/**
 * The desktop app's composition root, run: out/electron/glue/main.js in a child process with everything real (the
 * engine, the key ring of scripts/with-keyring.sh, msmtp delivering to a loopback sink, electron-log, the settings
 * window in headless Chromium with the real preload) except Electron's native layer, which is the stand-in of
 * test/helpers/electron-stand-in/ (its header lists what it implements and from which documentation). The tray host
 * (StatusNotifierWatcher) and logind's LockedHint are python3-dbus fakes on the private session bus.
 * The scenarios are split over composition-root-{start,login,tray,quit}.test.ts, each file within the runner's time bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchApp } from '../helpers/app/desktop-app';
import { desk, liveTray, started, waitForState } from '../helpers/app/desktop-session';
import { waitUntil } from '../helpers/wait';
import { useDesktopFakes } from '../helpers/app/desktop-fakes';

describe('composition root: the tray host away during a screen lock', { timeout: 420_000 }, () => {
  const fakes = useDesktopFakes();

  it('the tray host away during a screen lock: no window, no new icon; away while unlocked: the window once', async () => {
    const watcher = await fakes.watcher();
    const d = await desk('lock');
    const app = started(launchApp(d.env, ['--hidden']));
    await waitForState(app, 'the icon registered', (s) => liveTray(s)?.registrations === 1);
    fakes.logind().send('lock');
    await waitUntil(() => fakes.logind().lines.includes('locked'), 5000, 'the lock');
    await watcher.stop(); // GNOME turns the AppIndicator extension off while locked
    await sleep(14_000); // longer than the patience (10 s) and several polls (2 s)
    let state = await app.state();
    assert.deepEqual(state.windows, [], `no window during the lock: ${state.journal.join(' | ')}`);
    const back = await fakes.watcher(); // the unlock brings it back
    fakes.logind().send('unlock');
    await waitUntil(() => fakes.logind().lines.includes('unlocked'), 5000, 'the unlock');
    await waitForState(app, 'the same icon registered again by itself', (s) => liveTray(s)?.registrations === 2);
    await sleep(3000);
    state = await app.state();
    assert.deepEqual(state.windows, [], `no window after the unlock: ${state.journal.join(' | ')}`);
    assert.equal(state.trays.length, 1, 'no second tray (it would be an XEmbed icon)');

    await back.stop(); // now the host goes away with the session unlocked
    state = await waitForState(app, 'the window after the patience', (s) => s.journal.includes('window 1 loaded'), 30_000);
    assert.equal(state.windows.length, 1);
    assert.equal(state.trays.length, 1);
  });
});
