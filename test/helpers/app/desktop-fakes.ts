import { after, afterEach, before } from 'node:test';
import { lockDesktopBus } from '../programs/desktop-bus-lock';
import { cleanUp } from './desktop-session';
import { fakeService, type FakeService } from './fake-desktop';

export interface DesktopFakes {
  /** Starts a fake tray host (StatusNotifierWatcher); it is stopped after the test. */
  watcher(extra?: string[]): Promise<FakeService>;
  /** This file's fake logind (its session's LockedHint), started before the first test. */
  logind(): FakeService;
}

/**
 * The hooks every composition-root file needs: the session bus's desktop names for this file alone (two files run
 * at once), a fake logind for the whole file, and after each test the app ended and its tray hosts stopped.
 */
export function useDesktopFakes(): DesktopFakes {
  let release: (() => void) | null = null;
  let logind: FakeService | null = null;
  const watchers: FakeService[] = [];
  before(async () => {
    release = await lockDesktopBus();
    logind = await fakeService('logind');
  });
  afterEach(async () => {
    await cleanUp();
    for (const watcher of watchers.splice(0)) await watcher.stop();
  });
  after(async () => {
    await logind?.stop();
    release?.();
  });
  return {
    watcher: async (extra = []) => {
      const watcher = await fakeService('watcher', extra);
      watchers.push(watcher);
      return watcher;
    },
    logind: () => {
      if (!logind) throw new Error('the fake logind starts before the first test');
      return logind;
    },
  };
}
