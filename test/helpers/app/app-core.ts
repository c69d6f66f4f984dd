import type { AppCore } from '../../../electron/core/app-core';
import type { EngineState } from '../../../electron/core/app-status';
import type { AppSettings, OutboxView } from '../../../electron/contract/api';
import { settingsFor } from './app-env';

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
