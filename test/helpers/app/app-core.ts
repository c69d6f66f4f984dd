import { join } from 'node:path';
import { createAppCore, type AppCore } from '../../../electron/core/app-core';
import { AppCommands, type AppCommandsDeps } from '../../../electron/core/commands';
import { createXdgAutostart } from '../../../electron/desktop/autostart';
import type { EngineState } from '../../../electron/core/app-status';
import type { AppSettings, OutboxView } from '../../../electron/contract/api';
import { settingsFor } from './app-env';
import type { SecretStore } from '../../../src-relay/index';

/** What a test's app core holds before the test says which settings it runs with. */
export const UNSET_SETTINGS: AppSettings = settingsFor('', 0, 'unset');

/** The settings change (as a save in the window does), then the relay starts with them. */
export function startWith(core: AppCore, settings: AppSettings): Promise<EngineState> {
  core.settings.replace(settings);
  return core.relay.start();
}

/** The settings change (as a save in the window does), then the relay applies them. */
export function applyWith(core: AppCore, settings: AppSettings): Promise<EngineState> {
  core.settings.replace(settings);
  return core.relay.apply();
}

/** Pauses or resumes sending (the Outbox pane's button), and returns the pane's view. */
export async function pausedView(core: AppCore, paused: boolean): Promise<OutboxView> {
  await core.outbox!.setPaused(paused);
  return core.outbox!.view();
}

/**
 * An app core with an outbox whose retries are far apart (a kept mail goes out when the test presses a button, not
 * when a timer says so), failed logins not slowed, and time to finish a mail on stop.
 */
export function coreWithOutbox(secrets: SecretStore, outboxDir: string): AppCore {
  return createAppCore({
    settings: UNSET_SETTINGS,
    secrets, outboxDir, outboxTiming: { retryInitialMs: 15 * 60_000 },
    engineOptions: { authFailureDelayMs: 0, stopGraceMs: 5000 },
  });
}

/**
 * The main process's commands as a window test needs them: autostart in a folder of the test's own (`dir`), and no
 * clipboard, log file or file chooser behind them; `more` replaces or adds what a test watches.
 */
export function windowCommands(
  deps: Pick<AppCommandsDeps, 'app' | 'store' | 'secrets'>, dir: string, more: Partial<AppCommandsDeps> = {},
): AppCommands {
  return new AppCommands({
    ...deps,
    autostart: createXdgAutostart(join(dir, 'autostart'), ['/opt/msmtp-relay']),
    writeClipboard: () => undefined,
    openLogFile: async () => '',
    chooseFile: async () => null,
    ...more,
  });
}
