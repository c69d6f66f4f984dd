import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseCommand } from '../../src-relay/index';
import type { CommandCheck, MsmtpAccount } from '../contract/api';
import { readUntrustedText } from '../desktop/untrusted-file';
import { xdgConfigHome } from '../desktop/xdg';

export interface CheckOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  timeoutMs?: number;
}

/**
 * The Relay pane's Check button: runs the command's program with --version (argv, never a shell) and lists the
 * msmtp accounts the user's configuration files define, so a typo or a missing msmtp shows before the first mail.
 */
export async function checkCommand(command: string, options: CheckOptions = {}): Promise<CommandCheck> {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  // Shown to the user, who knows the files as ~/.msmtprc rather than by their absolute path.
  const accounts = (await findMsmtpAccounts(msmtpConfigFiles(env, home)))
    .map((account) => ({ ...account, file: tildePath(account.file, home) }));
  let program: string;
  try {
    program = parseCommand(command)[0]!;
  } catch (error) {
    return { ok: false, error: (error as Error).message, accounts };
  }
  const result = await runVersion(program, env, options.timeoutMs ?? 5000);
  return result.ok
    ? { ok: true, program, version: result.version, accounts }
    : { ok: false, program, error: result.error, accounts };
}

function runVersion(program: string, env: NodeJS.ProcessEnv, timeoutMs: number):
Promise<{ ok: true; version: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    execFile(
      program,
      ['--version'],
      { env, timeout: timeoutMs, maxBuffer: 256 * 1024, windowsHide: true, shell: false, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) {
          const version = firstLine(stdout) || firstLine(stderr);
          resolve(version ? { ok: true, version } : { ok: false, error: `'${program} --version' printed nothing` });
          return;
        }
        const err = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (err.code === 'ENOENT') {
          resolve({ ok: false, error: notFoundMessage(program) });
        } else if (err.code === 'EACCES') {
          resolve({ ok: false, error: `'${program}' is not executable (permission denied)` });
        } else if (err.killed || err.signal) {
          resolve({ ok: false, error: `'${program} --version' did not finish within ${timeoutMs} ms` });
        } else {
          const said = firstLine(stderr) || firstLine(stdout);
          const code = typeof err.code === 'number' ? err.code : err.code ?? 'an error';
          resolve({ ok: false, error: `'${program} --version' exited with ${code}${said ? `: ${said}` : ''}` });
        }
      },
    );
  });
}

export function notFoundMessage(program: string): string {
  return isAbsolute(program)
    ? `${program} was not found`
    : `${program} was not found in PATH${program === 'msmtp' ? ' (install msmtp, e.g. "sudo apt install msmtp" or "brew install msmtp")' : ''}`;
}

/** msmtp's user configuration files, in the order msmtp documents them. */
export function msmtpConfigFiles(env: NodeJS.ProcessEnv, home: string): string[] {
  return [join(home, '.msmtprc'), join(xdgConfigHome(env, home), 'msmtp', 'config')];
}

/** The accounts of msmtp's user configuration, read from its files (msmtp itself is not run). */
export function msmtpAccounts(options: CheckOptions = {}): Promise<MsmtpAccount[]> {
  return findMsmtpAccounts(msmtpConfigFiles(options.env ?? process.env, options.home ?? homedir()));
}

async function findMsmtpAccounts(files: readonly string[]): Promise<MsmtpAccount[]> {
  const found: MsmtpAccount[] = [];
  for (const file of files) {
    let text: string | null;
    try {
      // Only read here: a regular file (a symlink to one is followed, as msmtp does), of sane size, in bounded time.
      text = await readUntrustedText(file, { followSymlinks: true, maxBytes: 1024 * 1024, timeoutMs: 2000 });
    } catch {
      continue; // an unreadable file (or a FIFO, or a huge one) simply defines no accounts
    }
    if (text !== null) found.push(...parseMsmtpAccounts(text, file));
  }
  return found;
}

/**
 * The accounts of one msmtp configuration file with their From address. Follows msmtp's rules for what the
 * pane needs: `defaults` applies to the accounts after it, `account NAME : A, B` inherits from earlier accounts,
 * and an account's own `from` wins. Only whole-line comments exist in msmtp's syntax.
 */
export function parseMsmtpAccounts(text: string, file: string): MsmtpAccount[] {
  const accounts = new Map<string, { from?: string }>();
  let defaultsFrom: string | undefined;
  let current: { from?: string } | 'defaults' | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+)(?:\s+(.*))?$/.exec(line);
    if (!match) continue;
    const keyword = match[1]!;
    const argument = unquote((match[2] ?? '').trim());
    if (keyword === 'defaults') {
      current = 'defaults';
    } else if (keyword === 'account') {
      const [name, parents] = splitAccount(argument);
      if (!name) continue;
      const entry: { from?: string } = defaultsFrom !== undefined ? { from: defaultsFrom } : {};
      for (const parent of parents) {
        const inherited = accounts.get(parent)?.from;
        if (inherited !== undefined) entry.from = inherited;
      }
      accounts.set(name, entry);
      current = entry;
    } else if (keyword === 'from') {
      if (current === 'defaults') defaultsFrom = argument;
      else if (current) current.from = argument;
    }
  }
  return [...accounts].map(([account, { from }]) => (from ? { file, account, from } : { file, account }));
}

function splitAccount(argument: string): [string, string[]] {
  const colon = argument.indexOf(':');
  if (colon < 0) return [argument.trim(), []];
  const parents = argument.slice(colon + 1).split(',').map((name) => name.trim()).filter(Boolean);
  return [argument.slice(0, colon).trim(), parents];
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
}

function tildePath(file: string, home: string): string {
  return home && file.startsWith(`${home}/`) ? `~${file.slice(home.length)}` : file;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/).map((line) => line.trim()).find(Boolean) ?? '';
}
