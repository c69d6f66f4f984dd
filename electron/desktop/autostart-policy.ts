import type { Autostart } from './autostart';

/**
 * What start-at-login does when the app launches, without Electron. The user's choice lives in the OS (GNOME Tweaks,
 * KDE's autostart settings, Task Manager, Login Items), so the app reads it from there and never writes it back on its
 * own: it only refreshes an entry that exists and is enabled (the command line of a moved AppImage).
 */

/** A development run on Windows or macOS would register the bare Electron binary as the login item. */
export function autostartAvailable(platform: NodeJS.Platform, packaged: boolean): boolean {
  return platform === 'linux' || packaged;
}

export const DEV_RUN_AUTOSTART = 'Start at login works only in the installed app, not in a development run';

/** For runs that must not touch the OS's login items: always off, and turning it on is refused with a reason. */
export function unavailableAutostart(reason = DEV_RUN_AUTOSTART): Autostart {
  return {
    async isEnabled() {
      return false;
    },
    async setEnabled(on) {
      if (on) throw new Error(reason);
    },
  };
}

export interface LaunchAutostart {
  /** The OS's real state: what the settings checkbox shows. */
  enabled: boolean;
  refreshed: boolean;
  problem?: string;
}

export async function refreshAutostartAtLaunch(autostart: Autostart): Promise<LaunchAutostart> {
  let enabled: boolean;
  try {
    enabled = await autostart.isEnabled();
  } catch (error) {
    return { enabled: false, refreshed: false, problem: `could not read start at login: ${(error as Error).message}` };
  }
  if (!enabled) return { enabled, refreshed: false };
  try {
    await autostart.setEnabled(true);
    return { enabled, refreshed: true };
  } catch (error) {
    return { enabled, refreshed: false, problem: `could not refresh start at login: ${(error as Error).message}` };
  }
}
