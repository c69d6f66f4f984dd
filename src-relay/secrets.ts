import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type * as Keytar from '@github/keytar';

/** Where a password lives between runs: the OS key ring, under one service name, one entry per user. */
export interface SecretStore {
  get(user: string): Promise<string | null>;
  set(user: string, password: string): Promise<void>;
  /** True when an entry was removed. */
  delete(user: string): Promise<boolean>;
}

/** The key ring cannot be reached: no D-Bus session, no Secret Service, keytar not loadable, or no answer. */
export class KeyringUnavailableError extends Error {
  override name = 'KeyringUnavailableError';
}

/** No password could be found; the message is the one line the CLI prints. */
export class PasswordError extends Error {
  override name = 'PasswordError';
}

export const APP_SERVICE = 'msmtp-relay';
/** A locked key ring may pop up an unlock dialog; past this we stop waiting and move on. */
const KEYRING_TIMEOUT_MS = 30_000;
const PASSWORD_EVAL_TIMEOUT_MS = 60_000;
const MAX_CAPTURE_BYTES = 64 * 1024;

/** The app's own entries (service 'msmtp-relay', account = user) through keytar; the desktop app uses it too. */
export function createKeyringStore(service = APP_SERVICE, timeoutMs = KEYRING_TIMEOUT_MS): SecretStore {
  const call = async <T>(what: string, run: (keytar: typeof Keytar) => Promise<T>): Promise<T> => {
    const keytar = loadKeytar();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KeyringUnavailableError(`key ring did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([run(keytar), timeout]);
    } catch (error) {
      if (error instanceof KeyringUnavailableError) throw error;
      throw new KeyringUnavailableError(`key ring not reachable for ${what} (${error instanceof Error ? error.message : String(error)})`);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    get: (user) => call('lookup', (keytar) => keytar.getPassword(service, user)),
    set: (user, password) => call('store', (keytar) => keytar.setPassword(service, user, password)),
    delete: (user) => call('delete', (keytar) => keytar.deletePassword(service, user)),
  };
}

/** Loaded on first use: a machine without libsecret can still run the relay with a passwordeval. */
function loadKeytar(): typeof Keytar {
  try {
    // A require, not an import: the native module loads only when a key ring is really used.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@github/keytar') as typeof Keytar;
  } catch (error) {
    throw new KeyringUnavailableError(`key ring support not loadable: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

export type PasswordSource = 'passwordeval' | 'app-keyring' | 'msmtp-keyring' | 'prompt';

export interface FindPasswordOptions {
  /** msmtpd's passwordeval: a shell command whose first output line is the password. */
  passwordEval?: string;
  /** May we prompt on the terminal? Never in --inetd mode, where stdin is the SMTP client. */
  interactive: boolean;
  /** The app's own entries; defaults to the key ring. */
  store?: SecretStore;
  passwordEvalTimeoutMs?: number;
}

/**
 * msmtpd's order: passwordeval if given; else the key ring (the app's entry, then msmtp's own entry); else a prompt
 * without echo when stdin is a terminal; else an error. Only the password and where it came from are returned.
 */
export async function findPassword(user: string, options: FindPasswordOptions): Promise<{ password: string; source: PasswordSource }> {
  if (options.passwordEval !== undefined) {
    const password = await runPasswordEval(options.passwordEval, {
      timeoutMs: options.passwordEvalTimeoutMs ?? PASSWORD_EVAL_TIMEOUT_MS,
      interactive: options.interactive,
    });
    return { password, source: 'passwordeval' };
  }
  const notes: string[] = [];
  try {
    const password = await (options.store ?? createKeyringStore()).get(user);
    if (password) return { password, source: 'app-keyring' };
    notes.push('not in the key ring');
  } catch (error) {
    notes.push(error instanceof Error ? error.message : String(error));
  }
  const msmtpEntry = await lookupMsmtpEntry(user);
  if (msmtpEntry) return { password: msmtpEntry, source: 'msmtp-keyring' };
  if (options.interactive && process.stdin.isTTY) {
    const typed = await promptPassword(user);
    if (typed) return { password: typed, source: 'prompt' };
    notes.push('nothing typed');
  } else {
    notes.push('no terminal to ask on');
  }
  throw new PasswordError(`cannot get password for (localhost, smtp, ${user}): ${notes.join('; ')}`);
}

/**
 * Runs the passwordeval through /bin/sh -c (it is a shell command by definition, as in msmtp), keeps the first line
 * of its output without the trailing CR/LF and ignores its exit status, as msmtpd does.
 */
export async function runPasswordEval(command: string, options: { timeoutMs: number; interactive: boolean }): Promise<string> {
  // Not stdin in inetd mode: it is the SMTP client. Interactive, gpg's pinentry can still reach the terminal.
  const result = await capture('/bin/sh', ['-c', command], {
    timeoutMs: options.timeoutMs,
    stdin: options.interactive ? 'inherit' : 'ignore',
    stderr: options.interactive ? 'inherit' : 'ignore', // an inetd stderr may be the client's socket
    ownSession: !options.interactive,
  });
  const output = result.stdout;
  if (result.spawnError) throw new PasswordError(`cannot get password: cannot run '${command}': ${result.spawnError.message}`);
  if (output.length === 0) {
    const why = result.timedOut ? ` (no output within ${options.timeoutMs / 1000} s)` : '';
    throw new PasswordError(`cannot get password: cannot read output of '${command}'${why}`);
  }
  const newline = output.indexOf(0x0a);
  const password = firstLine(output.subarray(0, newline < 0 ? output.length : newline + 1).toString('utf8'));
  if (password === '') throw new PasswordError(`cannot get password: the first line of output of '${command}' is empty`);
  return password;
}

/**
 * msmtp's own key ring entry, as `secret-tool store --label=msmtpd host localhost service smtp user USER` makes it
 * (then the legacy NetworkPassword attributes), or the macOS Keychain internet password. Absent tools or an
 * unreachable key ring mean "not found": the next source is tried.
 */
export async function lookupMsmtpEntry(user: string, timeoutMs = KEYRING_TIMEOUT_MS): Promise<string | null> {
  const queries =
    process.platform === 'darwin'
      ? [['security', 'find-internet-password', '-s', 'localhost', '-r', 'smtp', '-a', user, '-w']]
      : [
          ['secret-tool', 'lookup', 'host', 'localhost', 'service', 'smtp', 'user', user],
          ['secret-tool', 'lookup', 'user', user, 'protocol', 'smtp', 'server', 'localhost'],
        ];
  for (const [file, ...args] of queries) {
    const result = await capture(file!, args, { timeoutMs, stdin: 'ignore', stderr: 'ignore', ownSession: true });
    if (result.code !== 0 || result.timedOut) continue;
    // `echo pw | secret-tool store ...` stores the newline too (and `security -w` prints one): drop a final one.
    const password = result.stdout.toString('utf8').replace(/\r?\n$/, '');
    if (password) return password;
  }
  return null;
}

/** Asks on the terminal without echo; the prompt goes to stderr, as getpass does. Null on Ctrl-C or Ctrl-D. */
export function promptPassword(user: string, prompt = `password for ${user} at localhost: `): Promise<string | null> {
  const swallowEcho = new Writable({ write: (_chunk, _encoding, done) => done() });
  // The interface puts the terminal in raw mode; only then the prompt, so no typed key is ever echoed.
  const reader = createInterface({ input: process.stdin, output: swallowEcho, terminal: true });
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let answer: string | null = null;
    reader.once('line', (line) => {
      answer = line;
      reader.close();
    });
    reader.once('SIGINT', () => reader.close());
    reader.once('close', () => {
      process.stderr.write('\n');
      process.stdin.pause();
      resolve(answer);
    });
  });
}

function firstLine(text: string): string {
  return text.replace(/\r?\n[\s\S]*$/, '').replace(/\r$/, '');
}

interface Captured {
  stdout: Buffer;
  code: number | null;
  timedOut: boolean;
  spawnError?: Error;
}

interface CaptureOptions {
  timeoutMs: number;
  stdin: 'inherit' | 'ignore';
  stderr: 'inherit' | 'ignore';
  /**
   * Its own session and process group, so a timeout kills all it started. Not when it may need the terminal
   * (gpg's pinentry opens /dev/tty, which a new session no longer has).
   */
  ownSession: boolean;
}

/** How long output may still arrive after the program exited (a daemon it started may hold stdout forever). */
const OUTPUT_GRACE_MS = 200;

/** Runs a program without a shell, keeps its first 64 KiB of stdout, kills it on timeout. */
function capture(file: string, args: string[], options: CaptureOptions): Promise<Captured> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: [options.stdin, 'pipe', options.stderr], detached: options.ownSession });
    const chunks: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (result: Omit<Captured, 'stdout' | 'timedOut'>) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      child.stdout.destroy();
      resolve({ ...result, timedOut, stdout: Buffer.concat(chunks).subarray(0, MAX_CAPTURE_BYTES) });
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (size < MAX_CAPTURE_BYTES) chunks.push(chunk);
      size += chunk.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (options.ownSession && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      } else {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs);
    child.once('error', (error) => finish({ code: null, spawnError: error }));
    child.once('exit', (code) => {
      if (child.stdout.readableEnded) return finish({ code });
      child.stdout.once('end', () => finish({ code }));
      graceTimer = setTimeout(() => finish({ code }), OUTPUT_GRACE_MS);
    });
  });
}
