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
import { desk, listening, liveTray, started, waitForState } from '../helpers/app/desktop-session';
import { waitUntil } from '../helpers/wait';
import { useDesktopFakes } from '../helpers/app/desktop-fakes';

describe('composition root: a start at login, with a late tray host or one that lists nothing', { timeout: 420_000 }, () => {
  const fakes = useDesktopFakes();

  it('a hidden start waits for a tray host that comes a few seconds late, and opens no window', async () => {
    const d = await desk('late-host');
    const app = started(launchApp(d.env, ['--hidden']));
    await sleep(2500);
    await fakes.watcher();
    const state = await waitForState(app, 'the icon on the late host', (s) => liveTray(s)?.registrations === 1);
    await waitUntil(() => listening(d.port), 10_000, 'the relay listening');
    await sleep(1000);
    const now = await app.state();
    assert.deepEqual(now.windows, [], `no window: ${now.journal.join(' | ')}`);
    assert.equal(state.trays.length, 1);
    assert.equal(state.trays[0]!.kind, 'sni');
  });

  it('a host that lists no item of ours counts as no tray: a hidden start opens the window', async () => {
    const watcher = await fakes.watcher(['--ignore']);
    const d = await desk('no-item');
    const app = started(launchApp(d.env, ['--hidden']));
    const state = await waitForState(app, 'the window, since the icon is not listed', (s) => s.journal.includes('window 1 loaded'), 30_000);
    assert.equal(state.trays[0]?.kind, 'sni', 'the icon was made and registered, but the host lists nothing');
    assert.ok(watcher.lines.some((line) => line.startsWith('registered ')), watcher.lines.join('\n'));
  });
});
