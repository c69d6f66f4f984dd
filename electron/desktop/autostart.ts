import { readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeTextDurably } from '../../src-relay/index';
import { xdgConfigHome } from './xdg';

/** Start the app at login, in the tray (the command line carries --hidden). */
export interface Autostart {
  isEnabled(): Promise<boolean>;
  setEnabled(on: boolean): Promise<void>;
}

export const HIDDEN_FLAG = '--hidden';
export const DESKTOP_FILE_NAME = 'msmtp-relay.desktop';

/** The folder XDG-compliant desktops read login items from. */
export function xdgAutostartDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(xdgConfigHome(env, home), 'autostart');
}

/**
 * The command line a login item runs: an AppImage must be started through $APPIMAGE (the path the user keeps),
 * not through the executable inside its temporary mount; a development run needs the app folder as argument.
 */
export function launchCommand(options: {
  execPath: string;
  appImage?: string | undefined;
  appPath?: string | undefined;
}): string[] {
  if (options.appImage) return [options.appImage, HIDDEN_FLAG];
  return [options.execPath, ...(options.appPath ? [options.appPath] : []), HIDDEN_FLAG];
}

/** The Exec= value of a desktop entry (Desktop Entry Specification, "The Exec key"). */
export function desktopExec(argv: readonly string[]): string {
  const quoted = argv.map((arg) => {
    if (/[\0-\x1f\x7f]/.test(arg)) throw new Error(`cannot put a control character in a desktop entry: ${JSON.stringify(arg)}`);
    const plain = /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/["`$\\]/g, (c) => `\\${c}`)}"`;
    return plain.replace(/%/g, '%%'); // a lone % would start a field code
  });
  // The value as a whole is a desktop-entry string, where a backslash is itself escaped.
  return quoted.join(' ').replace(/\\/g, '\\\\');
}

/**
 * The argv a desktop entry's Exec runs. GLib loads an entry only when Exec's first word names an executable, and
 * checks it before it turns %% back into %: a program path with a % in it is refused and the entry never starts.
 * Such a path goes to /bin/sh as $0 of a fixed script (never read as script text; `env` would take a path with "="
 * for a variable).
 */
export function execArgv(argv: readonly string[]): string[] {
  return argv[0]?.includes('%') ? ['/bin/sh', '-c', 'exec "$0" "$@"', ...argv] : [...argv];
}

export function desktopEntry(argv: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=msmtp Relay',
    'Comment=Local SMTP relay that hands each mail to msmtp',
    `Exec=${desktopExec(execArgv(argv))}`,
    'Icon=msmtp-relay',
    'Terminal=false',
    'Categories=Network;Email;',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** Linux: a .desktop file in ~/.config/autostart; refreshed at launch while enabled, so a moved AppImage keeps working. */
export function createXdgAutostart(dir: string, argv: readonly string[]): Autostart & { readonly file: string } {
  const file = join(dir, DESKTOP_FILE_NAME);
  return {
    file,
    async isEnabled() {
      try {
        const text = await readFile(file, 'utf8');
        return !/^Hidden\s*=\s*true\s*$/m.test(text) && !/^X-GNOME-Autostart-enabled\s*=\s*false\s*$/m.test(text);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },
    async setEnabled(on) {
      if (on) {
        await writeTextDurably(file, desktopEntry(argv), { durable: false });
        return;
      }
      await unlink(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    },
  };
}

/** The parts of Electron's app.get/setLoginItemSettings this module uses (macOS and Windows; docs/api/app.md). */
export interface LoginItemApi {
  getLoginItemSettings(options?: { args?: string[] }): {
    openAtLogin: boolean;
    /** Windows: some Run entry for this executable is enabled (Task Manager). */
    executableWillLaunchAtLogin?: boolean;
    /** macOS 13+: 'not-registered', 'enabled', 'requires-approval' or 'not-found'. */
    status?: string;
    /** Windows: the Run entries for this executable, by registry value name. */
    launchItems?: ReadonlyArray<{ name: string; enabled: boolean; scope?: string }>;
  };
  setLoginItemSettings(settings: { openAtLogin: boolean; args?: string[]; name?: string }): void;
}

/** The Windows Run entry's value name (Electron's default would be the AppUserModelID, the appId). */
export const LOGIN_ITEM_NAME = 'msmtp Relay';

export const APPROVAL_NEEDED = 'macOS has not allowed msmtp Relay to open at login yet. Allow it in System Settings → ' +
  'General → Login Items & Extensions (under "Open at Login" or "Allow in the Background"), then turn Start at login on again.';

/**
 * macOS and Windows: the OS keeps the login item; Windows passes --hidden, macOS reports wasOpenedAtLogin.
 * On Windows an entry switched off in Task Manager still has its Run key (openAtLogin) but will not launch: the
 * entry's `enabled` is the state the user sees there. On macOS an unsigned or unnotarized app's item can end
 * "requires approval" or silently off (docs/api/app.md setLoginItemSettings): after setting it, the OS's state is
 * read back, and turning it on fails with where to approve it when the OS did not take it.
 */
export function createLoginItemAutostart(api: LoginItemApi, platform: NodeJS.Platform): Autostart {
  const args = [HIDDEN_FLAG];
  const read = () => api.getLoginItemSettings({ args });
  const enabled = (settings: ReturnType<typeof read>) => {
    if (platform === 'win32') {
      return (settings.launchItems ?? []).some((item) => item.name === LOGIN_ITEM_NAME && item.enabled && item.scope !== 'machine');
    }
    return settings.openAtLogin && (settings.status === undefined || settings.status === 'enabled');
  };
  return {
    async isEnabled() {
      return enabled(read());
    },
    async setEnabled(on) {
      if (platform === 'win32') {
        api.setLoginItemSettings({ openAtLogin: on, args, name: LOGIN_ITEM_NAME });
        // An entry from before the item had a name (Electron's default: the AppUserModelID) goes when turning off.
        if (!on) api.setLoginItemSettings({ openAtLogin: false, args });
      } else {
        api.setLoginItemSettings({ openAtLogin: on, args });
      }
      const now = read();
      if (enabled(now) === on) return;
      if (on && now.status === 'requires-approval') throw new Error(APPROVAL_NEEDED);
      throw new Error(`the system did not ${on ? 'add' : 'remove'} the login item${now.status ? ` (its state: ${now.status})` : ''}`);
    },
  };
}
