/**
 * The app's side of msmtp's accounts (issue #18), without Electron: the list the Accounts pane shows, the lookup,
 * "Verify and save" and remove through the engine (src-relay/accounts), the provider pages it may open, and the
 * accounts that need attention. The password passes through save() once, to the engine; it is never logged,
 * stored here or returned.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import type {
  AccountLookupView, AccountPage, AccountRequest, AccountSaveResult, AccountsView, ActionResult, HealthProblem, SenderWarning,
} from '../contract/api';
import {
  AddressError, addAccount, listAccounts, lookupAccount, parseMsmtprc, removeAccount, type AccountSeams, type AccountSettings,
  type LookupSeams, type MsmtprcModel, type RelayEvent,
} from '../../src-relay/index';
import { accountView, tildePath } from './account-view';
import { AccountAttention, type AccountTrouble } from './attention';
import { unmatchedSenders } from './from-match';
import { lookupView, providerPages, type ProviderPages } from './lookup-view';

/** What the service needs of the app: its log, the status's problems, the outbox's retry and the engine's events. */
export interface AccountsHost {
  log(level: 'info' | 'error', message: string): void;
  setProblems(source: string, problems: HealthProblem[]): void;
  /** Tries every waiting mail now; how many were due. */
  retryOutbox(): Promise<number>;
  /** The engine's events: an account-attention event marks the account it names. */
  onEvent(listener: (event: RelayEvent) => void): () => void;
}

export interface AccountsDeps {
  host: AccountsHost;
  /** The From addresses the user sends with, and where each was found (Thunderbird identities, the test mail). */
  senders(): Promise<SenderWarning[]>;
  /** Opens an https page in the user's browser (shell.openExternal). */
  openExternal(url: string): Promise<void>;
  chooseTrustFile(): Promise<string | null>;
  /** An account was marked as needing attention for the first time (the desktop notification). */
  onAttention?(trouble: AccountTrouble): void;
  /** The engine's seams (tests: a private HOME, a shorter login timeout); the real machine's by default. */
  seams?: AccountSeams;
  lookupSeams?: LookupSeams;
  home?: string;
}

interface Remembered {
  readonly host: string;
  readonly port: number;
  readonly needsConfirmation: boolean;
  readonly pages: ProviderPages;
}

export class AccountsService {
  private readonly attention = new AccountAttention();
  /** The last lookup per address (lower case): what must be confirmed, which pages may be opened. */
  private readonly looked = new Map<string, Remembered>();

  constructor(private readonly deps: AccountsDeps) {
    deps.host.onEvent((event) => {
      if (event.type === 'account-attention') {
        // msmtp names the account in its closing line; without it, the sender stands for it.
        this.noteTrouble({ account: event.account ?? event.from, kind: event.reason, address: event.from });
      } else if ((event.type === 'mail' && event.outcome === 'delivered') || (event.type === 'outbox' && event.action === 'sent')) {
        // Mail from the address goes out again: its account was fixed (by hand, for a hand-written one).
        if (this.attention.clearAddress(event.from)) this.publish();
      }
    });
  }

  async list(): Promise<AccountsView> {
    const listed = await listAccounts(this.deps.seams);
    const model = await readModel(listed.file);
    const home = this.deps.home ?? homedir();
    const accounts = listed.accounts.map((account) => accountView(account, model, home, this.attention.words(account.name)));
    const senders = await this.deps.senders().catch(() => []);
    const defaultAccount = accounts.find((account) => account.isDefault)?.name;
    return {
      file: tildePath(listed.file, home),
      accounts,
      ...(listed.problem ? { problem: listed.problem } : {}),
      ...(defaultAccount ? { defaultAccount } : {}),
      unmatched: unmatchedSenders(accounts, senders),
    };
  }

  async lookup(address: string): Promise<AccountLookupView> {
    try {
      const result = await lookupAccount(address, this.deps.lookupSeams);
      if (result.found) {
        this.looked.set(address.toLowerCase(), {
          host: result.settings.host,
          port: result.settings.port,
          needsConfirmation: result.needsConfirmation,
          pages: providerPages(result),
        });
      }
      return lookupView(result);
    } catch (error) {
      if (error instanceof AddressError) return { found: false, tried: [], warnings: [], error: `${address} is not a mail address` };
      throw error;
    }
  }

  async save(request: AccountRequest, password: string): Promise<AccountSaveResult> {
    const looked = this.looked.get(request.address.toLowerCase());
    if (looked?.needsConfirmation && looked.host === request.host && looked.port === request.port && !request.confirmed) {
      return { ok: false, stage: 'confirm', message: `Confirm that ${request.host} is your provider's server before the password is sent there.` };
    }
    const settings: AccountSettings = {
      address: request.address,
      host: request.host,
      port: request.port,
      tls: request.tls,
      user: request.user,
      ...(request.tlsTrustFile !== undefined ? { tlsTrustFile: request.tlsTrustFile } : {}),
      ...(request.tlsFingerprint !== undefined ? { tlsFingerprint: request.tlsFingerprint } : {}),
    };
    const result = await addAccount(settings, password, this.deps.seams);
    const where = `${request.host}:${request.port}`;
    if (!result.ok) {
      this.deps.host.log('error', `account for ${request.address} not saved (${result.stage}): ${result.message}`);
      return {
        ok: false,
        stage: result.stage,
        message: result.message,
        ...(result.login ? { cause: result.login.cause } : {}),
        ...(result.login?.serverReply ? { serverReply: result.login.serverReply } : {}),
      };
    }
    this.deps.host.log('info', `account ${result.account} for ${request.address} ${result.updated ? 'updated' : 'added'} in ${result.file}: the login at ${where} works`);
    const fixed = this.attention.clear(result.account) || this.attention.clearAddress(request.address);
    if (fixed) this.publish();
    // Mail that waited for this account (or for any account, when msmtp had none) can go now.
    const flushed = await this.deps.host.retryOutbox();
    const more = flushed > 0 ? ` ${flushed === 1 ? 'The waiting mail goes' : `The ${flushed} waiting mails go`} out now.` : '';
    return {
      ok: true,
      account: result.account,
      message: `${result.updated ? 'Updated' : 'Added'} the account ${result.account}: the login works and msmtp uses it for ${request.address}.${more}`,
    };
  }

  async remove(address: string): Promise<ActionResult> {
    const result = await removeAccount(address, this.deps.seams);
    if (!result.ok) return { ok: false, error: result.message };
    this.deps.host.log('info', `account ${result.account} for ${address} removed from ${result.file}`);
    if (this.attention.clear(result.account) || this.attention.clearAddress(address)) this.publish();
    return { ok: true, message: `Removed the account ${result.account}` };
  }

  async openPage(address: string, page: AccountPage): Promise<ActionResult> {
    const pages = this.looked.get(address.toLowerCase())?.pages;
    const url = page === 'app-password' ? pages?.appPassword : pages?.enableAccess;
    if (!url) return { ok: false, error: 'There is no such page for this provider' };
    await this.deps.openExternal(url);
    return { ok: true, message: `Opened ${new URL(url).host} in your browser` };
  }

  chooseTrustFile(): Promise<string | null> {
    return this.deps.chooseTrustFile();
  }

  /** The engine could not log in with an account: mark it, notify once, show it in the window and the tray. */
  noteTrouble(trouble: AccountTrouble): void {
    const fresh = this.attention.note(trouble);
    this.publish();
    if (fresh) {
      this.deps.host.log('error', `the msmtp account ${trouble.account} needs attention (${trouble.kind})`);
      this.deps.onAttention?.(trouble);
    }
  }

  private publish(): void {
    this.deps.host.setProblems('accounts', this.attention.problems());
  }
}

async function readModel(file: string): Promise<MsmtprcModel | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  return text === null ? null : parseMsmtprc(text);
}
