import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HIDDEN_START_TRAY_WAIT_MS, WindowGate, secondLaunchShows, startedHidden } from '../../../electron/desktop/launch';

describe('launch', () => {
  it('a start at login is hidden: --hidden, or macOS wasOpenedAtLogin', () => {
    assert.equal(startedHidden(['/opt/app/msmtp-relay-desktop', '--hidden'], 'linux', false), true);
    assert.equal(startedHidden(['/opt/app/msmtp-relay-desktop'], 'linux', true), false, 'wasOpenedAtLogin is macOS only');
    assert.equal(startedHidden(['/Applications/msmtp Relay.app/Contents/MacOS/msmtp Relay'], 'darwin', true), true);
    assert.equal(startedHidden(['C:\\msmtp-relay.exe'], 'win32', false), false);
    assert.ok(HIDDEN_START_TRAY_WAIT_MS >= 5000 && HIDDEN_START_TRAY_WAIT_MS <= 30_000);
  });

  it('a second launch shows the window unless it is itself a hidden start', () => {
    assert.equal(secondLaunchShows(['/usr/bin/msmtp-relay-desktop']), true);
    assert.equal(secondLaunchShows(['/usr/bin/msmtp-relay-desktop', '--hidden']), false);
  });

  it('windows asked for before boot registered IPC open once it has, and at once after', () => {
    let opened = 0;
    const gate = new WindowGate(() => void (opened += 1));
    gate.request();
    gate.request();
    assert.equal(opened, 0, 'no window before the IPC handlers exist');
    assert.equal(gate.ready, false);
    assert.equal(gate.allow(), true, 'it was asked for');
    assert.equal(opened, 1, 'one window for the asks meanwhile');
    gate.request();
    assert.equal(opened, 2);
    const quiet = new WindowGate(() => void (opened += 1));
    assert.equal(quiet.allow(), false);
    assert.equal(opened, 2);
  });
});
