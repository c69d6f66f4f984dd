import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOCK_SPACING_MS, DockPolicy } from '../../../electron/desktop/dock';

describe('dock policy (macOS)', () => {
  it('shows with the app\'s own show, hides with its close, and waits out Electron\'s one second after a show', async () => {
    const calls: string[] = [];
    let now = 10_000;
    const dock = new DockPolicy({ show: () => calls.push('show'), hide: () => calls.push('hide'), now: () => now });
    dock.windowShown();
    now += DOCK_SPACING_MS + 1;
    dock.windowClosed();
    assert.deepEqual(calls, ['show', 'hide'], 'a close well after the show hides at once');
    dock.windowShown();
    now += 10; // closed right after opening: Electron would ignore a hide now (browser_mac.mm DockHide)
    dock.windowClosed();
    assert.deepEqual(calls, ['show', 'hide', 'show'], 'not yet');
    await sleep(DOCK_SPACING_MS + 100);
    assert.deepEqual(calls, ['show', 'hide', 'show', 'hide'], 'once the second has passed');
  });

  it('a show cancels a pending hide', async () => {
    const calls: string[] = [];
    const dock = new DockPolicy({ show: () => calls.push('show'), hide: () => calls.push('hide') });
    dock.windowShown();
    dock.windowClosed();
    dock.windowShown();
    await sleep(DOCK_SPACING_MS + 100);
    assert.deepEqual(calls, ['show', 'show']);
  });
});
