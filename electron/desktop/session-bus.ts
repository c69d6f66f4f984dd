import { execFile } from 'node:child_process';

/** Asking the session bus whether a name has an owner: used for the tray's StatusNotifierWatcher and the keyring's Secret Service. */
/** Whether a bus name has an owner; null when the session bus could not be asked at all. */
export type BusProbe = (name: string) => Promise<boolean | null>;

export interface BusTool {
  program: string;
  args(name: string): string[];
  owned(stdout: string): boolean;
}

const DBUS = 'org.freedesktop.DBus';
const DBUS_PATH = '/org/freedesktop/DBus';

/**
 * The session-bus clients a desktop is likely to have, best first: gdbus (GLib, which Electron's GTK needs anyway),
 * dbus-send (the reference client, packaged apart on some distributions), busctl (systemd).
 */
export const BUS_TOOLS: readonly BusTool[] = [
  {
    program: 'gdbus',
    args: (name) => ['call', '--session', '--dest', DBUS, '--object-path', DBUS_PATH, '--method', `${DBUS}.NameHasOwner`, name],
    owned: (stdout) => stdout.trim() === '(true,)',
  },
  {
    program: 'dbus-send',
    args: (name) => ['--session', '--print-reply', `--dest=${DBUS}`, DBUS_PATH, `${DBUS}.NameHasOwner`, `string:${name}`],
    owned: (stdout) => /\bboolean true\b/.test(stdout),
  },
  {
    program: 'busctl',
    args: (name) => ['--user', 'call', DBUS, DBUS_PATH, DBUS, 'NameHasOwner', 's', name],
    owned: (stdout) => stdout.trim() === 'b true',
  },
];

/**
 * Asks the session bus with the first client that works (no shell, bounded); once one answered it is asked first
 * from then on. A client that is missing or cannot reach the bus passes the question on to the next.
 */
export function createBusProbe(options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; tools?: readonly BusTool[] } = {}): BusProbe {
  const tools = [...(options.tools ?? BUS_TOOLS)];
  const env = options.env ?? process.env;
  const timeout = options.timeoutMs ?? 2000;
  return async (name) => {
    for (const [index, tool] of tools.entries()) {
      const stdout = await new Promise<string | null>((resolve) => {
        execFile(tool.program, tool.args(name), { env, timeout, shell: false, encoding: 'utf8' },
          (error, out) => resolve(error ? null : out));
      });
      if (stdout === null) continue;
      if (index > 0) tools.unshift(...tools.splice(index, 1));
      return tool.owned(stdout);
    }
    return null;
  };
}
