import { execFile } from 'node:child_process';

/**
 * Whether a tray icon will be seen. Electron on Linux shows tray icons through the StatusNotifierItem protocol
 * (or an old XEmbed tray); plain GNOME Shell has neither unless the AppIndicator extension is on. Where the icon
 * would be invisible the app opens its window instead, so it is never running out of reach.
 */
export const STATUS_NOTIFIER_WATCHER = 'org.kde.StatusNotifierWatcher';

/** Asks the session bus whether `name` has an owner (dbus-send, no shell, bounded); false when it cannot tell. */
export function busNameHasOwner(name: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      'dbus-send',
      ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
        'org.freedesktop.DBus.NameHasOwner', `string:${name}`],
      { env, timeout: timeoutMs, shell: false, encoding: 'utf8' },
      (error, stdout) => resolve(!error && /boolean true/.test(stdout)),
    );
  });
}

/** GNOME without an indicator host is the case known to hide tray icons; other desktops get the benefit of doubt. */
export function linuxTrayVisible(env: NodeJS.ProcessEnv, watcherPresent: boolean): boolean {
  if (watcherPresent) return true;
  const desktop = (env.XDG_CURRENT_DESKTOP ?? '').toUpperCase().split(':');
  return !desktop.includes('GNOME') && !desktop.includes('UBUNTU');
}

export async function trayVisible(platform: NodeJS.Platform, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (platform !== 'linux') return true;
  return linuxTrayVisible(env, await busNameHasOwner(STATUS_NOTIFIER_WATCHER, env));
}
