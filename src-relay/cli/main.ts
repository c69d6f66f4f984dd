#!/usr/bin/env node
/**
 * msmtp-relay: the headless relay, a drop-in for msmtpd. Same options, same meaning, same exit status 3 for
 * anything that keeps it from starting; msmtpd's silent surprises (port "abc" = a random port, a log written only
 * at session end, a password read from the SMTP client's stdin) become clear errors or fixed behaviour.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { helpText, parseCliArgs, type CliConfig } from './args';
import { runAccountTool } from './account';
import { findForAdd, runLookup } from './lookup';
import { runQueueTool } from './queue';
import { runDaemon, runInetd } from './run';
import { prepareStartup, StartupError } from './startup';
import { UsageError } from './getopt';
import { promptPassword } from '../index';

export const PROGRAM = 'msmtp-relay';
/** msmtpd's (LSB's "program is not running") status for every start-up failure. */
export const EXIT_STARTUP_FAILED = 3;

export function versionText(): string {
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return `${PROGRAM} version ${version}\nA drop-in for msmtpd (msmtp 1.8): the same options with the same meaning.\n`;
}

export async function main(args: readonly string[]): Promise<number> {
  let config: CliConfig;
  try {
    config = parseCliArgs(args); // all options first: a bad one beats --help, as in msmtpd
  } catch (error) {
    if (error instanceof UsageError) {
      // The account tools follow sysexits.h (EX_USAGE); the relay keeps msmtpd's 3.
      return args.some((arg) => /^--(add-account|remove-account|list-accounts|lookup-account|account-)/.test(arg))
        ? fail(error.message, 64) : fail(error.message);
    }
    throw error;
  }
  if (config.version) {
    process.stdout.write(versionText());
    return 0;
  }
  if (config.help) {
    process.stdout.write(`${helpText(PROGRAM)}\n`);
    return 0;
  }
  if (config.accountTool?.kind === 'lookup') {
    return runLookup(config.accountTool, (text) => process.stdout.write(text));
  }
  if (config.accountTool) {
    return runAccountTool(config.accountTool, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(`${PROGRAM}: ${text}`),
      readPassword,
      findSettings: findForAdd,
    });
  }
  if (config.queueTool) {
    try {
      return await runQueueTool(config, (text) => process.stdout.write(text));
    } catch (error) {
      if (error instanceof StartupError) return fail(error.message);
      throw error;
    }
  }
  let startup;
  try {
    startup = await prepareStartup(config, PROGRAM);
  } catch (error) {
    if (error instanceof StartupError) return fail(error.message);
    throw error;
  }
  try {
    return config.inetd ? await runInetd(startup) : await runDaemon(startup);
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    startup.sink.write('error', error.message);
    await startup.sink.close();
    return fail(error.message);
  }
}

/**
 * The account's password: all of stdin when it is not a terminal (`printf %s pw |`, or a password manager's output,
 * whose one final newline is dropped), else typed without echo. Empty when nothing was given (refused later).
 */
async function readPassword(prompt: string): Promise<string> {
  if (process.stdin.isTTY) return (await promptPassword('', prompt)) ?? '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Exits once what was written to stdout and stderr (pipes or sockets: asynchronous) is out; bounded. */
function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
  const streams = [process.stdout, process.stderr].filter((stream) => stream.writable && !stream.destroyed);
  let pending = streams.length;
  if (pending === 0) process.exit(code);
  for (const stream of streams) stream.write('', () => (pending -= 1) === 0 && process.exit(code));
}

function fail(message: string, code: number = EXIT_STARTUP_FAILED): number {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => exitWhenFlushed(code),
    (error: unknown) => {
      process.stderr.write(`${PROGRAM}: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(70);
    },
  );
}
