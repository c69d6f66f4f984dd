import { resolve } from 'node:path';
import type { AccountSettings } from './account-settings';
import { withConfigLock, type LockTiming } from './config-lock';
import { probeMsmtpLogin, type ProbeResult } from './msmtp-login-probe';
import { KeyringError, msmtpKeyring, type MsmtpKeyring } from './msmtp-keyring';
import { pretendAccount, type MsmtpRunOptions, type PretendResult } from './msmtp-run';
import { AccountFileError, checkSettings, planAccountRemoval, planAccountWrite } from './msmtprc-block';
import {
  msmtpUserConfigFile, readConfigText, restoreConfigText, writeConfigText, type ConfigPlace, type ConfigText,
} from './msmtprc-file';
import { accountsForAddress, parseMsmtprc, type MsmtprcModel } from './msmtprc-parse';
import { verifyLogin, type LoginCheck, type VerifyOptions } from './verify-login';

/** What addAccount, removeAccount and listAccounts use from the outside world; tests replace single parts. */
export interface AccountSeams {
  /** Where msmtp's user file is looked for (HOME, XDG_CONFIG_HOME); default: this process's. */
  readonly place?: ConfigPlace;
  readonly keyring?: MsmtpKeyring;
  /** How msmtp is run (program, environment): as the relay runs it. */
  readonly msmtp?: MsmtpRunOptions;
  readonly verify?: (settings: AccountSettings, password: string, options?: VerifyOptions) => Promise<LoginCheck>;
  readonly verifyOptions?: VerifyOptions;
  readonly pretend?: (address: string, options: MsmtpRunOptions) => Promise<PretendResult>;
  readonly probe?: (address: string, user: string, password: string, options: MsmtpRunOptions) => Promise<ProbeResult>;
  /** How long a change waits for another program's change of the same file. */
  readonly lock?: LockTiming;
}

/** Which step stopped the change; nothing was changed in any case. */
export type AccountProblemStage = 'settings' | 'file' | 'login' | 'keyring' | 'msmtp';

export type AddAccountResult =
  | {
    readonly ok: true;
    /** The account's name in msmtp's file. */
    readonly account: string;
    readonly file: string;
    /** True when the app's earlier block for this address was replaced. */
    readonly updated: boolean;
    /** The file's previous content, kept beside it; null when the file was created. */
    readonly backup: string | null;
  }
  | {
    readonly ok: false;
    readonly stage: AccountProblemStage;
    readonly message: string;
    /** The provider's refusal, when the login was refused. */
    readonly login?: Extract<LoginCheck, { ok: false }>;
    /** True when the key ring cannot be used here at all (Windows, no libsecret-tools). */
    readonly unsupported?: boolean;
  };

/**
 * Adds (or updates) the account for `settings.address`: the login is checked with the provider first, then the
 * password goes into the key ring where msmtp looks, the account into msmtp's own file, and msmtp itself must pick
 * the account for the address and find the password. Any failure puts back the file and the key ring item.
 */
export async function addAccount(settings: AccountSettings, password: string, seams: AccountSeams = {}): Promise<AddAccountResult> {
  try {
    checkSettings(settings);
    if (password === '' || /[\r\n\0]/.test(password)) {
      return { ok: false, stage: 'settings', message: 'the password is empty or contains a line break or NUL' };
    }
  } catch (error) {
    if (error instanceof AccountFileError) return { ok: false, stage: 'settings', message: error.message };
    throw error;
  }
  const file = await msmtpUserConfigFile(seams.place);
  // The file is read here once so that a file that cannot take the account is said before the login is tried;
  // the change itself reads it again under the lock.
  const early = await planAdd(file, settings);
  if (!early.ok) return early;

  const login = await (seams.verify ?? verifyLogin)(settings, password, seams.verifyOptions);
  if (!login.ok) return { ok: false, stage: 'login', message: login.message, login };

  try {
    return await withConfigLock(file, () => writeAccount(file, settings, password, seams), seams.lock);
  } catch (error) {
    if (error instanceof AccountFileError) return { ok: false, stage: 'file', message: error.message };
    throw error;
  }
}

type Planned = { ok: true; current: ConfigText; model: MsmtprcModel; plan: ReturnType<typeof planAccountWrite> };

async function planAdd(file: string, settings: AccountSettings): Promise<Planned | Extract<AddAccountResult, { ok: false }>> {
  try {
    const current = await readConfigText(file);
    const model = parseMsmtprc(current.text ?? '');
    return { ok: true, current, model, plan: planAccountWrite(model, settings) };
  } catch (error) {
    if (error instanceof AccountFileError) return { ok: false, stage: 'file', message: error.message };
    throw error;
  }
}

/** The change of addAccount, under the lock: the key ring item, the file, msmtp's check, and the undo if it fails. */
async function writeAccount(file: string, settings: AccountSettings, password: string, seams: AccountSeams): Promise<AddAccountResult> {
  const planned = await planAdd(file, settings);
  if (!planned.ok) return planned;
  const { current, model, plan } = planned;
  const keyring = seams.keyring ?? msmtpKeyring();
  const previous = accountsForAddress(model, settings.address).find((account) => account.block)?.settings;
  let hadItem: boolean;
  try {
    hadItem = await keyring.has(settings.host, settings.user);
    await keyring.store(settings.host, settings.user, password);
  } catch (error) {
    if (error instanceof KeyringError) return { ok: false, stage: 'keyring', message: error.message, unsupported: error.unsupported };
    throw error;
  }

  const undo = async () => {
    await restoreConfigText(current);
    // An item that existed before now holds the password the provider just accepted: it stays.
    if (!hadItem) await keyring.remove(settings.host, settings.user).catch(() => undefined);
  };
  let backup: string | null;
  try {
    backup = await writeConfigText(current, plan.text);
  } catch (error) {
    if (!hadItem) await keyring.remove(settings.host, settings.user).catch(() => undefined);
    if (error instanceof AccountFileError || (error as NodeJS.ErrnoException).code) {
      return { ok: false, stage: 'file', message: (error as Error).message };
    }
    throw error;
  }
  const problem = await msmtpProblem(settings, password, plan.name, file, seams).catch((error: Error) => `msmtp could not be checked: ${error.message}`);
  if (problem) {
    await undo();
    return { ok: false, stage: 'msmtp', message: problem };
  }
  // The account moved to another server or login: the old item is no longer msmtp's, unless another account uses it.
  const oldHost = previous?.get('host');
  const oldUser = previous?.get('user');
  if (oldHost && oldUser && (oldHost !== settings.host || oldUser !== settings.user)
    && !model.accounts.some((a) => !a.block && a.settings.get('host') === oldHost && a.settings.get('user') === oldUser)) {
    await keyring.remove(oldHost, oldUser).catch(() => undefined);
  }
  return { ok: true, account: plan.name, file, updated: plan.updated, backup };
}

/** Why msmtp would not send as the address with this account and password, or null when it will. */
async function msmtpProblem(settings: AccountSettings, password: string, name: string, file: string, seams: AccountSeams): Promise<string | null> {
  const options = seams.msmtp ?? {};
  const picked = await (seams.pretend ?? pretendAccount)(settings.address, options);
  if (!picked.ok) return `msmtp does not accept the file: ${picked.error}`;
  if (resolve(picked.file) !== resolve(file)) return `msmtp reads ${picked.file}, not ${file}`;
  if (picked.account !== name) return `msmtp would send ${settings.address} through the account '${picked.account}', not '${name}' (an earlier account matches the address)`;
  const probe = await (seams.probe ?? probeMsmtpLogin)(settings.address, settings.user, password, options);
  return probe.ok ? null : probe.message;
}

export type RemoveAccountResult =
  | { readonly ok: true; readonly account: string; readonly file: string; readonly backup: string | null }
  | { readonly ok: false; readonly message: string };

/** Removes the app's block for this address and its key ring item (unless a hand-written account uses it too). */
export async function removeAccount(address: string, seams: AccountSeams = {}): Promise<RemoveAccountResult> {
  const file = await msmtpUserConfigFile(seams.place);
  try {
    return await withConfigLock(file, () => removeBlock(file, address, seams), seams.lock);
  } catch (error) {
    if (error instanceof AccountFileError) return { ok: false, message: error.message };
    throw error;
  }
}

async function removeBlock(file: string, address: string, seams: AccountSeams): Promise<RemoveAccountResult> {
  const current = await readConfigText(file);
  const model = parseMsmtprc(current.text ?? '');
  if (model.problem) return { ok: false, message: `msmtp's file cannot be changed safely: ${model.problem}` };
  const plan = planAccountRemoval(model, address);
  if (!plan) {
    const hand = accountsForAddress(model, address)[0];
    return { ok: false, message: hand ? `${address} is in the hand-written account '${hand.name}'; remove it in ${file} by hand` : `no account sends as ${address}` };
  }
  const account = model.accounts.find((a) => a.name === plan.name)!;
  const backup = await writeConfigText(current, plan.text);
  const host = account.settings.get('host');
  const user = account.settings.get('user');
  const stillUsed = parseMsmtprc(plan.text).accounts.some((a) => a.settings.get('host') === host && a.settings.get('user') === user);
  if (host && user && !stillUsed) {
    try {
      await (seams.keyring ?? msmtpKeyring()).remove(host, user);
    } catch (error) {
      if (!(error instanceof KeyringError)) throw error;
    }
  }
  return { ok: true, account: plan.name, file, backup };
}

/** Where msmtp gets an account's password from. */
export type PasswordPlace = 'file' | 'passwordeval' | 'keyring' | 'missing' | 'not-needed' | 'unknown';

export interface ListedAccount {
  readonly name: string;
  readonly file: string;
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  /** The From addresses msmtp picks this account for (msmtp knows one per account; it may be a pattern). */
  readonly from: readonly string[];
  /** msmtp's default account is the one named "default". */
  readonly isDefault: boolean;
  /** Written (and changeable) by the app. */
  readonly appWritten: boolean;
  readonly password: PasswordPlace;
}

export interface AccountList {
  readonly file: string;
  readonly accounts: readonly ListedAccount[];
  /** Why msmtp would refuse the file, when the model sees it. */
  readonly problem?: string;
}

/** Each account msmtp sees in its user file, in msmtp's order, and whether msmtp will find its password. */
export async function listAccounts(seams: AccountSeams = {}): Promise<AccountList> {
  const file = await msmtpUserConfigFile(seams.place);
  let text: string | null;
  try {
    text = (await readConfigText(file)).text;
  } catch (error) {
    if (error instanceof AccountFileError) return { file, accounts: [], problem: error.message };
    throw error;
  }
  const model = parseMsmtprc(text ?? '');
  const keyring = seams.keyring ?? msmtpKeyring();
  const accounts: ListedAccount[] = [];
  for (const account of model.accounts) {
    const s = account.settings;
    const port = Number(s.get('port'));
    accounts.push({
      name: account.name,
      file,
      ...(s.get('host') ? { host: s.get('host')! } : {}),
      ...(Number.isInteger(port) && port > 0 ? { port } : {}),
      ...(s.get('user') ? { user: s.get('user')! } : {}),
      from: s.get('from') ? [s.get('from')!] : [],
      isDefault: account.name === 'default',
      appWritten: account.block !== undefined,
      password: await passwordPlace(s, keyring),
    });
  }
  return model.problem ? { file, accounts, problem: model.problem } : { file, accounts };
}

async function passwordPlace(settings: ReadonlyMap<string, string>, keyring: MsmtpKeyring): Promise<PasswordPlace> {
  const auth = settings.get('auth');
  if (auth === undefined || auth === 'off') return 'not-needed';
  if (settings.get('password')) return 'file';
  if (settings.get('passwordeval')) return 'passwordeval';
  const host = settings.get('host');
  const user = settings.get('user');
  if (!host || !user) return 'missing';
  try {
    return (await keyring.has(host, user)) ? 'keyring' : 'missing';
  } catch {
    return 'unknown';
  }
}
