/**
 * Accounts that need the user: msmtp could not log in with them (the provider refused the login, or msmtp found no
 * password), so their mail waits in the outbox. Kept until the account is saved (verified) again; shown as a health
 * problem, which puts it in the window and the tray, with a button to the Accounts pane.
 */
import type { HealthProblem } from '../contract/api';

export type AccountTroubleKind = 'login-refused' | 'no-password';

export interface AccountTrouble {
  /** The msmtp account's name. */
  account: string;
  kind: AccountTroubleKind;
  /** The From address of the mail that could not go out. */
  address?: string;
}

const WORDS: Readonly<Record<AccountTroubleKind, string>> = {
  'login-refused': 'The provider refused the login: the password is wrong, expired or was revoked.',
  'no-password': 'msmtp found no password for it.',
};

export class AccountAttention {
  private readonly needing = new Map<string, AccountTrouble>();

  /** Records a trouble; true when the account was not marked yet (the caller notifies once). */
  note(trouble: AccountTrouble): boolean {
    const fresh = !this.needing.has(trouble.account);
    this.needing.set(trouble.account, trouble);
    return fresh;
  }

  /** The account was saved or verified again: true when it had been marked. */
  clear(account: string): boolean {
    return this.needing.delete(account);
  }

  /**
   * A mail from this address went out (a retry after the user fixed a hand-written account, say): the accounts
   * marked for it are fine again. True when one was cleared.
   */
  clearAddress(address: string): boolean {
    let cleared = false;
    for (const [account, trouble] of this.needing) {
      if (trouble.address?.toLowerCase() === address.toLowerCase()) cleared = this.needing.delete(account) || cleared;
    }
    return cleared;
  }

  has(account: string): boolean {
    return this.needing.has(account);
  }

  words(account: string): string | undefined {
    const trouble = this.needing.get(account);
    return trouble ? WORDS[trouble.kind] : undefined;
  }

  problems(): HealthProblem[] {
    return [...this.needing.values()].map((trouble) => ({
      kind: 'account-attention',
      title: `The msmtp account ${trouble.account} needs attention`,
      detail: `${WORDS[trouble.kind]} Its mail waits in the outbox and goes out once the account is verified again.`,
      steps: [],
      opens: { pane: 'accounts', ...(trouble.address ? { address: trouble.address } : {}), label: 'Open Accounts' },
    }));
  }
}
