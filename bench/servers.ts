import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { childPids } from './memory';
import { freePort, waitForSmtp } from '../test/helpers/ports';
import { startTracked, stopTracked } from './processes';

export const MSMTPD = '/usr/bin/msmtpd';
const outDir = join(__dirname, '..');
const relayCli = join(outDir, 'src-relay', 'cli', 'main.js');
const relayServer = join(__dirname, 'relay-server.js');

/** A server under test, started fresh for each measurement and stopped (with its whole process group) after. */
export interface RunningServer {
  readonly port: number;
  readonly pid: number;
  /** The processes that hold a mail in memory while it goes through: the relay itself, msmtpd's session forks. */
  mailHandlerPids(): number[];
  stop(): Promise<void>;
}

export interface ServerKind {
  readonly name: string;
  /** What exactly runs, for the report. */
  readonly description: string;
  start(commandArgv: readonly string[]): Promise<RunningServer>;
}

/** The argv as one command string (msmtpd hands it to /bin/sh -c; msmtp-relay splits it into words again). */
export function commandLine(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w%@./=:+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

async function started(child: ChildProcess, port: number, mailHandlerPids: () => number[]): Promise<RunningServer> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-2000)));
  child.stdout?.resume();
  try {
    await Promise.race([
      // A relay that takes a desktop-sized heap first needs a few seconds more on a busy machine.
      waitForSmtp(port, 60_000),
      new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr.trim()}`)))),
    ]);
  } catch (error) {
    await stopTracked(child);
    throw error;
  }
  return { port, pid: child.pid!, mailHandlerPids, stop: () => stopTracked(child) };
}

/** Debian's msmtpd; it runs the command through /bin/sh -c, so the command is given as one string. */
export const msmtpd: ServerKind = {
  name: 'msmtpd',
  description: `${MSMTPD} --interface=127.0.0.1 --port=P --command='<command> -f %F --'`,
  async start(commandArgv) {
    const port = await freePort();
    const child = startTracked(MSMTPD, ['--interface=127.0.0.1', `--port=${port}`, `--command=${commandLine(commandArgv)}`]);
    return started(child, port, () => (child.pid ? childPids(child.pid) : []));
  },
};

/**
 * msmtp-relay in its own Node process: the real CLI when it exists and the engine's default spawner is wanted,
 * else bench/relay-server.ts (createRelay with a chosen spawner, and with `ballastMib` MiB of heap taken first,
 * to be the size of the desktop app's main process).
 */
export function msmtpRelay(spawner: string, cliArgs: readonly string[] = [], ballastMib = 0): ServerKind {
  const useCli = spawner === 'default' && ballastMib === 0 && existsSync(relayCli);
  if (cliArgs.length > 0 && !useCli) throw new Error('msmtp-relay options need the CLI (the default spawner)');
  return {
    name: 'msmtp-relay',
    description: useCli
      ? `node out/src-relay/cli/main.js --interface=127.0.0.1 --port=P --command='<command> -f %F --'`
      : `node out/bench/relay-server.js${ballastMib > 0 ? ` --ballast-mib=${ballastMib}` : ''} (createRelay, spawner '${spawner}')`,
    async start(commandArgv) {
      const port = await freePort();
      const args = useCli
        ? [relayCli, '--interface=127.0.0.1', `--port=${port}`, `--command=${commandLine(commandArgv)}`, ...cliArgs]
        : [relayServer, ...(ballastMib > 0 ? [`--ballast-mib=${ballastMib}`] : []), String(port), spawner, ...commandArgv];
      const child = startTracked(process.execPath, args);
      return started(child, port, () => (child.pid ? [child.pid] : []));
    },
  };
}
