import { spawn } from 'node:child_process';
import { findExecutable } from '../delivery/executable';

/**
 * The password where msmtp itself looks for it (src/password.c): on Linux a Secret Service item with the attributes
 * host, service=smtp and user (libsecret, schema flag DONT_MATCH_NAME, so any item with these three attributes); on
 * macOS an internet password in the login keychain for server, account and protocol smtp. msmtp on Windows reads no
 * key ring, only `password`, `passwordeval` or ~/.netrc-like files.
 *
 * The password goes to the tools on stdin, never in argv (which other users can read in /proc), and is never logged.
 */
export interface MsmtpKeyring {
  /** Stores or replaces the item msmtp finds for this host and user. */
  store(host: string, user: string, password: string): Promise<void>;
  /** Removes it; no error when there is none. */
  remove(host: string, user: string): Promise<void>;
  /** Whether msmtp would find one, without reading the secret. */
  has(host: string, user: string): Promise<boolean>;
}

export class KeyringError extends Error {
  override name = 'KeyringError';
  constructor(message: string, readonly unsupported = false) {
    super(message);
  }
}

/** The key ring msmtp reads on this platform. */
export function msmtpKeyring(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): MsmtpKeyring {
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd') return secretServiceKeyring(env);
  if (platform === 'darwin') return macKeychain(env, findExecutable('msmtp', env));
  return unsupportedKeyring(`msmtp on ${platform} reads no key ring: put a passwordeval command in its file instead`);
}

function unsupportedKeyring(why: string): MsmtpKeyring {
  const fail = () => Promise.reject(new KeyringError(why, true));
  return { store: fail, remove: fail, has: fail };
}

const TIMEOUT_MS = 15_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool with argv (no shell), feeding `input` on stdin; ENOENT becomes a KeyringError. */
export function runTool(program: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.stdin.on('error', () => undefined); // a tool that exits early closes its stdin
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new KeyringError(`${program} is not installed${program === 'secret-tool' ? ' (install libsecret-tools)' : ''}`, true) : error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function secretServiceKeyring(env: NodeJS.ProcessEnv): MsmtpKeyring {
  const attributes = (host: string, user: string) => ['host', host, 'service', 'smtp', 'user', user];
  return {
    async store(host, user, password) {
      // secret-tool reads the whole of a non-terminal stdin as the secret: no newline is added. It replaces an item
      // with the same attributes (libsecret stores with replace), so an edited password updates the one item.
      const ran = await runTool('secret-tool', ['store', `--label=msmtp: ${user} at ${host}`, ...attributes(host, user)], password, env);
      if (ran.code !== 0) throw new KeyringError(`the key ring refused the password: ${firstLine(ran.stderr) || `secret-tool exited ${ran.code}`}`);
    },
    async remove(host, user) {
      const ran = await runTool('secret-tool', ['clear', ...attributes(host, user)], '', env);
      // secret-tool clear exits 1 when there was nothing to clear, too: only an item still there is a failure.
      if (ran.code !== 0 && await this.has(host, user)) throw new KeyringError(`the key ring did not remove the password: ${firstLine(ran.stderr) || `secret-tool exited ${ran.code}`}`);
    },
    async has(host, user) {
      // SearchItems over D-Bus returns object paths only (unlocked, locked), never a secret; secret-tool's own search
      // and lookup would print the password.
      const dict = `{${attributes(host, user).reduce<string[]>((pairs, value, i, all) => (i % 2 === 0 ? [...pairs, `${gvariantString(value)}: ${gvariantString(all[i + 1]!)}`] : pairs), []).join(', ')}}`;
      const ran = await runTool('gdbus', ['call', '--session', '--dest', 'org.freedesktop.secrets', '--object-path',
        '/org/freedesktop/secrets', '--method', 'org.freedesktop.Secret.Service.SearchItems', dict], '', env);
      if (ran.code !== 0) throw new KeyringError(`the key ring cannot be searched: ${firstLine(ran.stderr) || `gdbus exited ${ran.code}`}`);
      return /objectpath '/.test(ran.stdout);
    },
  };
}

/** A GVariant text string: single quotes, with backslash escapes for the quote and the backslash. */
function gvariantString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * macOS (untested here: no Mac on this machine). `security add-internet-password -w` without a value prompts on the
 * terminal; there is no stdin form, so the password is passed with -w, visible briefly to `ps` of the same user.
 */
function macKeychain(env: NodeJS.ProcessEnv, msmtp: string | null): MsmtpKeyring {
  const item = (host: string, user: string) => ['-s', host, '-a', user, '-r', 'smtp'];
  // -T lets msmtp read the item without the keychain asking the user each time.
  const trusted = msmtp ? ['-T', msmtp] : [];
  return {
    async store(host, user, password) {
      const ran = await runTool('security', ['add-internet-password', ...item(host, user), '-l', `msmtp: ${user} at ${host}`, ...trusted, '-U', '-w', password], '', env);
      if (ran.code !== 0) throw new KeyringError(`the keychain refused the password: ${firstLine(ran.stderr) || `security exited ${ran.code}`}`);
    },
    async remove(host, user) {
      const ran = await runTool('security', ['delete-internet-password', ...item(host, user)], '', env);
      if (ran.code !== 0 && ran.code !== 44) throw new KeyringError(`the keychain did not remove the password: ${firstLine(ran.stderr)}`);
    },
    async has(host, user) {
      const ran = await runTool('security', ['find-internet-password', ...item(host, user)], '', env);
      return ran.code === 0; // without -w/-g it prints the item's attributes, not the password
    },
  };
}

function firstLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).find(Boolean) ?? '';
}
