import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { msmtpUserConfigFile, parseCommand, parseMsmtprc } from '../../src-relay/index';
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
 * msmtp accounts of the user configuration file msmtp reads, so a typo or a missing msmtp shows before the first mail.
 */
export async function checkCommand(command: string, options: CheckOptions = {}): Promise<CommandCheck> {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  // Shown to the user, who knows the files as ~/.msmtprc rather than by their absolute path.
  const accounts = (await msmtpAccounts({ env, home }))
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

/** msmtp's user configuration files, in the order msmtp looks for them; it reads the first that exists. */
export function msmtpConfigFiles(env: NodeJS.ProcessEnv, home: string): string[] {
  return [join(home, '.msmtprc'), join(xdgConfigHome(env, home), 'msmtp', 'config')];
}

/**
 * The accounts of msmtp's user configuration, read (msmtp itself is not run) from the one file msmtp reads:
 * ~/.msmtprc when it exists, else $XDG_CONFIG_HOME/msmtp/config, modelled as msmtp parses it.
 */
export async function msmtpAccounts(options: CheckOptions = {}): Promise<MsmtpAccount[]> {
  const env = options.env ?? process.env;
  const file = await msmtpUserConfigFile({ env, home: options.home ?? homedir() });
  let text: string | null;
  try {
    // Only read here: a regular file (a symlink to one is followed, as msmtp does), of sane size, in bounded time.
    text = await readUntrustedText(file, { followSymlinks: true, maxBytes: 1024 * 1024, timeoutMs: 2000 });
  } catch {
    return []; // an unreadable file (or a FIFO, or a huge one) defines no accounts
  }
  return text === null ? [] : parseMsmtpAccounts(text, file);
}

/** The accounts of one msmtp configuration file with their From address, in msmtp's order. */
export function parseMsmtpAccounts(text: string, file: string): MsmtpAccount[] {
  return parseMsmtprc(text).accounts.map((account) => {
    const from = account.settings.get('from');
    return from ? { file, account: account.name, from } : { file, account: account.name };
  });
}

function tildePath(file: string, home: string): string {
  return home && file.startsWith(`${home}/`) ? `~${file.slice(home.length)}` : file;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/).map((line) => line.trim()).find(Boolean) ?? '';
}
