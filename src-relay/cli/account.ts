/**
 * The account tools of msmtp-relay: --add-account, --remove-account, --list-accounts. They change msmtp's own file
 * and key ring through the engine's account API; the exit statuses follow sysexits.h (documented in --help and
 * docs/accounts.md).
 */
import type { AccountTool } from './args';
import type { FoundForAdd } from './lookup';
import {
  AddressError, addAccount, listAccounts, removeAccount, type AccountSeams, type AccountSettings, type AddAccountResult, type LoginCause,
} from '../index';

export const ACCOUNT_EXIT = {
  ok: 0, usage: 64, loginRefused: 65, noInput: 66, noHost: 68, unavailable: 69, cantWrite: 73, network: 74,
  tempFail: 75, tls: 76, config: 78,
} as const;

const CAUSE_EXIT: Readonly<Record<LoginCause, number>> = {
  'wrong-password': ACCOUNT_EXIT.loginRefused,
  'app-password-required': ACCOUNT_EXIT.loginRefused,
  'basic-auth-disabled': ACCOUNT_EXIT.loginRefused,
  'login-deferred': ACCOUNT_EXIT.tempFail,
  'certificate-not-trusted': ACCOUNT_EXIT.tls,
  'fingerprint-mismatch': ACCOUNT_EXIT.tls,
  'trust-file-unreadable': ACCOUNT_EXIT.noInput,
  'host-not-found': ACCOUNT_EXIT.noHost,
  'connection-refused': ACCOUNT_EXIT.network,
  'nothing-answers': ACCOUNT_EXIT.network,
  'connection-lost': ACCOUNT_EXIT.network,
  'tls-on-starttls-port': ACCOUNT_EXIT.tls,
  'starttls-on-tls-port': ACCOUNT_EXIT.tls,
  'no-starttls': ACCOUNT_EXIT.tls,
  'no-login-offered': ACCOUNT_EXIT.unavailable,
  'no-usable-login-method': ACCOUNT_EXIT.unavailable,
  'server-refused': ACCOUNT_EXIT.unavailable,
  'not-smtp': ACCOUNT_EXIT.unavailable,
};

export interface AccountToolIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** The password: stdin when it is not a terminal, else a prompt without echo. */
  readonly readPassword: (prompt: string) => Promise<string>;
  /**
   * Finds the provider's settings for an address when --account-host is not given. Not part of this build yet:
   * the lookup (issue #18, "Finding the settings") plugs in here.
   */
  readonly findSettings?: (address: string) => Promise<FoundForAdd>;
  readonly seams?: AccountSeams;
}

/** --lookup-account is not among these: it changes nothing (lookup.ts). */
export async function runAccountTool(tool: Exclude<AccountTool, { kind: 'lookup' }>, io: AccountToolIo): Promise<number> {
  if (tool.kind === 'list') return listTool(io);
  if (tool.kind === 'remove') {
    const removed = await removeAccount(tool.address, io.seams);
    if (!removed.ok) {
      io.err(`${removed.message}\n`);
      return ACCOUNT_EXIT.cantWrite;
    }
    io.out(`removed account ${removed.account} from ${removed.file}\n`);
    return ACCOUNT_EXIT.ok;
  }
  let settings: AccountSettings;
  if (tool.host !== undefined) {
    const tls = tool.tls ?? (tool.port === 465 ? 'tls' : 'starttls');
    settings = {
      address: tool.address,
      host: tool.host,
      port: tool.port ?? (tls === 'tls' ? 465 : 587),
      tls,
      user: tool.user ?? tool.address,
      ...(tool.trustFile !== undefined ? { tlsTrustFile: tool.trustFile } : {}),
      ...(tool.fingerprint !== undefined ? { tlsFingerprint: tool.fingerprint } : {}),
    };
  } else if (io.findSettings) {
    let found: FoundForAdd;
    try {
      found = await io.findSettings(tool.address);
    } catch (error) {
      if (error instanceof AddressError) {
        io.err(`--add-account: ${error.message}\n`);
        return ACCOUNT_EXIT.usage;
      }
      throw error;
    }
    if (found.kind === 'refused') {
      io.err(`${found.message}\n`);
      return ACCOUNT_EXIT.unavailable;
    }
    io.out(found.said);
    settings = { ...found.settings, ...(tool.user !== undefined ? { user: tool.user } : {}) };
  } else {
    io.err('--add-account needs --account-host (finding the settings by address is not part of this build)\n');
    return ACCOUNT_EXIT.usage;
  }
  const password = await io.readPassword(`Password for ${settings.user} at ${settings.host}: `);
  const result = await addAccount(settings, password, io.seams);
  return report(result, settings, io);
}

function report(result: AddAccountResult, settings: AccountSettings, io: AccountToolIo): number {
  if (result.ok) {
    io.out(`${result.updated ? 'updated' : 'added'} account ${result.account} in ${result.file} (${settings.user} at ${settings.host}:${settings.port}, ${settings.tls}); the password is in the key ring\n`);
    if (result.backup) io.out(`the previous file is kept as ${result.backup}\n`);
    return ACCOUNT_EXIT.ok;
  }
  const reply = result.login?.serverReply ? ` (server: ${result.login.serverReply})` : '';
  io.err(`${result.message}${reply}; nothing was changed\n`);
  switch (result.stage) {
    case 'settings': return ACCOUNT_EXIT.usage;
    case 'file': return ACCOUNT_EXIT.cantWrite;
    case 'login': return CAUSE_EXIT[result.login!.cause];
    case 'keyring': return ACCOUNT_EXIT.unavailable;
    case 'msmtp': return ACCOUNT_EXIT.config;
  }
}

async function listTool(io: AccountToolIo): Promise<number> {
  const list = await listAccounts(io.seams);
  io.out(`${list.file}${list.problem ? ` (msmtp refuses it: ${list.problem})` : ''}\n`);
  for (const account of list.accounts) {
    const server = account.host ? ` ${account.user ?? '(no user)'} at ${account.host}${account.port ? `:${account.port}` : ''}` : '';
    const marks = [account.isDefault ? 'default' : '', account.appWritten ? 'written by msmtp Relay' : ''].filter(Boolean).join(', ');
    io.out(`${account.name}: from ${account.from[0] ?? '(none)'};${server}; password: ${account.password}${marks ? ` (${marks})` : ''}\n`);
  }
  return ACCOUNT_EXIT.ok;
}
