import { parse as parseShellWords } from 'shell-quote';
import { isListenHost } from './listen';

export interface TlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
}

export interface AuthOptions {
  user: string;
  password: string;
}

export interface RelayOptions {
  /**
   * Address to listen on: a numeric IPv4 or IPv6 address (msmtpd's --interface), or 'localhost' for both loopbacks
   * (127.0.0.1 and ::1, whichever the machine has).
   */
  host: string;
  port: number;
  /** argv template of the delivery command; the first '%F' becomes the envelope sender, recipients are appended. */
  command: readonly string[];
  /** When set, clients must AUTH with these credentials before MAIL. */
  auth?: AuthOptions;
  /** Name used in the greeting and the Received header. */
  hostname: string;
  maxSessions: number;
  maxMessageBytes: number;
  maxRecipients: number;
  /** Longest command line accepted, CRLF included. */
  maxLineBytes: number;
  /** Bad commands tolerated in one session before it is closed with 421. */
  maxErrors: number;
  /** Failed AUTH attempts tolerated in one session before it is closed with 421. */
  maxAuthFailures: number;
  /** Time a client has to send one complete command line (RFC 5321 4.5.3.2.7: at least 5 minutes). */
  commandTimeoutMs: number;
  /**
   * When every session slot is taken, a new client may take the slot of a session that has waited this long for
   * its next command: idle connections cannot lock everyone out for the whole command timeout.
   */
  evictIdleAfterMs: number;
  /** Time a client may stay silent while sending DATA (RFC 5321 4.5.3.2.5: 3 minutes). */
  dataTimeoutMs: number;
  /** Time the delivery command may take without progress (reading its input, or exiting once input ended). */
  deliveryTimeoutMs: number;
  /** Spacing imposed on every AUTH attempt, across all sessions, after a failure. */
  authFailureDelayMs: number;
  /** How long after the last failure the spacing stays in force. */
  authFailureWindowMs: number;
  /** How long stop() waits for mails in flight before closing their sessions. */
  stopGraceMs: number;
  /** STARTTLS is offered only when this is set. */
  tls?: TlsOptions;
}

export const DEFAULT_COMMAND = 'msmtp -f %F --';

export const defaultOptions: Readonly<Omit<RelayOptions, 'auth' | 'tls'>> = Object.freeze({
  host: '127.0.0.1',
  port: 25,
  command: Object.freeze(['msmtp', '-f', '%F', '--']),
  hostname: 'localhost',
  maxSessions: 16,
  maxMessageBytes: 64 * 1024 * 1024,
  maxRecipients: 100,
  maxLineBytes: 2048,
  maxErrors: 10,
  maxAuthFailures: 3,
  commandTimeoutMs: 5 * 60_000,
  evictIdleAfterMs: 10_000,
  dataTimeoutMs: 3 * 60_000,
  deliveryTimeoutMs: 5 * 60_000,
  authFailureDelayMs: 1000,
  authFailureWindowMs: 60_000,
  stopGraceMs: 10_000,
});

export class OptionError extends Error {
  override name = 'OptionError';
}

/**
 * Splits a command string into argv with POSIX shell quoting rules, without ever running a shell.
 * Shell operators, globs and substitutions are refused: the string is an argv, not a script.
 */
export function parseCommand(command: string): string[] {
  // No program can be given a NUL in its argv: every mail would fail (451) at the spawn.
  if (command.includes('\0')) throw new OptionError('command: it contains a NUL character, which no program can be given');
  let words: ReturnType<typeof parseShellWords>;
  try {
    words = parseShellWords(command, (name) => `$${name}`);
  } catch (error) {
    // shell-quote throws its own errors for things like '${' (bad substitution): say it in our words.
    throw new OptionError(`command: cannot split '${command}' into words: ${(error as Error).message}`);
  }
  const argv: string[] = [];
  for (const word of words) {
    if (typeof word === 'string') {
      argv.push(word);
    } else if ('op' in word && word.op === 'glob') {
      argv.push(word.pattern);
    } else if ('op' in word) {
      throw new OptionError(`command: shell operator '${word.op}' is not supported (the command runs without a shell)`);
    } else {
      throw new OptionError('command: comments are not supported');
    }
  }
  if (argv.length === 0) throw new OptionError('command: empty command');
  return argv;
}

/** Defaults merged in and every field checked; throws OptionError with a one-line message. */
export function resolveOptions(partial: Partial<RelayOptions> = {}): RelayOptions {
  const options: RelayOptions = { ...defaultOptions, ...stripUndefined(partial) };
  if (!isListenHost(options.host)) throw new OptionError(`invalid interface '${options.host}' (localhost, or a numeric IPv4 or IPv6 address)`);
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new OptionError(`invalid port '${options.port}' (0-65535)`);
  }
  if (options.command.length === 0 || options.command[0] === '') throw new OptionError('command: empty command');
  for (const key of positiveIntegerKeys) {
    const value = options[key];
    if (!Number.isInteger(value) || value < 1) throw new OptionError(`${key} must be a positive integer, not '${value}'`);
  }
  for (const key of nonNegativeIntegerKeys) {
    const value = options[key];
    if (!Number.isInteger(value) || value < 0) throw new OptionError(`${key} must be a non-negative integer, not '${value}'`);
  }
  if (options.maxLineBytes < 512) throw new OptionError('maxLineBytes must be at least 512 (RFC 5321)');
  if (options.auth) {
    if (!options.auth.user || /[\0-\x1f\x7f]/.test(options.auth.user)) throw new OptionError('auth: invalid user name');
    if (!options.auth.password) throw new OptionError('auth: empty password');
  }
  if (!/^[A-Za-z0-9.-]+$/.test(options.hostname)) throw new OptionError(`invalid hostname '${options.hostname}'`);
  return options;
}

const positiveIntegerKeys = [
  'maxSessions', 'maxMessageBytes', 'maxRecipients', 'maxLineBytes', 'maxErrors', 'maxAuthFailures',
  'commandTimeoutMs', 'dataTimeoutMs', 'deliveryTimeoutMs', 'evictIdleAfterMs',
] as const;
const nonNegativeIntegerKeys = ['authFailureDelayMs', 'authFailureWindowMs', 'stopGraceMs'] as const;

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
