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

/**
 * Reading D-Bus properties and a connection's process id, for the tray (the StatusNotifierWatcher's
 * RegisteredStatusNotifierItems) and for the screen lock (logind's Session.LockedHint, on the system bus). gdbus
 * first, dbus-send second; null when neither could ask. The bus is the one the environment names:
 * DBUS_SESSION_BUS_ADDRESS, and DBUS_SYSTEM_BUS_ADDRESS (or the system socket) for the system bus.
 */
export type BusValue = boolean | number | string | string[];

export interface BusReader {
  property(bus: 'session' | 'system', dest: string, path: string, iface: string, name: string): Promise<BusValue | null>;
  /** The Unix process id of a bus name's owner (org.freedesktop.DBus.GetConnectionUnixProcessID). */
  processId(name: string): Promise<number | null>;
}

/** gdbus prints GVariant text: `(<true>,)`, `(<['a', 'b']>,)`, `(<'text'>,)`, `(uint32 1234,)`. */
export function parseGdbusValue(stdout: string): BusValue | null {
  const text = stdout.trim().replace(/^\(<?/, '').replace(/>?,\)$/, '').trim();
  if (text === 'true' || text === 'false') return text === 'true';
  const number = /^(?:u?int\d+ |byte )?(-?\d+)$/.exec(text);
  if (number) return Number(number[1]);
  if (text.startsWith('[') || text.startsWith('@as [')) {
    return [...text.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((match) => (match[1] ?? match[2])!.replace(/\\(.)/g, '$1'));
  }
  const string = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(text);
  if (string) return (string[1] ?? string[2])!.replace(/\\(.)/g, '$1');
  return null;
}

/** dbus-send --print-reply: a header line, then `variant boolean true`, `uint32 1234`, or `array [ string "a" ... ]`. */
export function parseDbusSendValue(stdout: string): BusValue | null {
  const body = stdout.split('\n').slice(1).join('\n').trim().replace(/^variant\s+/, '');
  const boolean = /^boolean (true|false)$/.exec(body);
  if (boolean) return boolean[1] === 'true';
  const number = /^(?:u?int\d+|byte) (-?\d+)$/.exec(body);
  if (number) return Number(number[1]);
  if (body.startsWith('array [')) return [...body.matchAll(/string "((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!.replace(/\\(.)/g, '$1'));
  const string = /^string "((?:[^"\\]|\\.)*)"$/.exec(body);
  if (string) return string[1]!.replace(/\\(.)/g, '$1');
  return null;
}

export function createBusReader(options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): BusReader {
  const env = options.env ?? process.env;
  const timeout = options.timeoutMs ?? 2000;
  const run = (program: string, args: string[]) => new Promise<string | null>((resolve) => {
    execFile(program, args, { env, timeout, shell: false, encoding: 'utf8' }, (error, out) => resolve(error ? null : out));
  });
  const call = async (bus: 'session' | 'system', dest: string, path: string, method: string, args: Array<[string, string]>) => {
    const viaGdbus = await run('gdbus', ['call', `--${bus}`, '--dest', dest, '--object-path', path, '--method', method, ...args.map(([, value]) => value)]);
    if (viaGdbus !== null) return parseGdbusValue(viaGdbus);
    const viaDbusSend = await run('dbus-send', [`--${bus}`, '--print-reply', `--dest=${dest}`, path, method, ...args.map(([type, value]) => `${type}:${value}`)]);
    return viaDbusSend === null ? null : parseDbusSendValue(viaDbusSend);
  };
  return {
    property: (bus, dest, path, iface, name) =>
      call(bus, dest, path, 'org.freedesktop.DBus.Properties.Get', [['string', iface], ['string', name]]),
    processId: async (name) => {
      const value = await call('session', DBUS, DBUS_PATH, `${DBUS}.GetConnectionUnixProcessID`, [['string', name]]);
      return typeof value === 'number' ? value : null;
    },
  };
}
